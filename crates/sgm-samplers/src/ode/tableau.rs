//! Butcher tableaus of explicit Runge-Kutta methods.

/// An explicit Runge-Kutta method as a Butcher tableau, with an optional embedded
/// lower-order solution for error estimation:
///
/// ```text
/// k_i = F(x + h sum_{j<i} a_ij k_j, t + c_i h),   x' = x + h sum_i b_i k_i,
/// error estimate e = h sum_i (b_i - b*_i) k_i.
/// ```
///
/// The tableau only says how one step is taken; a [`StepSizeController`](crate::StepSizeController)
/// says how long the steps are (diffrax's separation of solver and step-size controller). A
/// method of your own is [`Tableau::new`], validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Tableau {
    name: &'static str,
    order: usize,
    a: Vec<Vec<f64>>,
    b: Vec<f64>,
    b_low: Option<Vec<f64>>,
    c: Vec<f64>,
}

impl Tableau {
    /// An explicit method from its Butcher tableau: `a` strictly lower triangular (row i has i
    /// entries), weights `b`, nodes `c`, and optionally the weights `b_low` of an embedded
    /// lower-order solution for adaptive steps. `order` is the order of the `b` solution; the
    /// embedded one is taken to be of order `order - 1`.
    ///
    /// Bogacki-Shampine 3(2) (Bogacki & Shampine 1989, the method of MATLAB's ode23), in a few
    /// lines:
    ///
    /// ```
    /// use sgm_samplers::Tableau;
    /// let bs3 = Tableau::new(
    ///     "Bogacki-Shampine 3(2)",
    ///     3,
    ///     vec![vec![], vec![0.5], vec![0.0, 0.75], vec![2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0]],
    ///     vec![2.0 / 9.0, 1.0 / 3.0, 4.0 / 9.0, 0.0],
    ///     Some(vec![7.0 / 24.0, 0.25, 1.0 / 3.0, 0.125]),
    ///     vec![0.0, 0.5, 0.75, 1.0],
    /// )?;
    /// assert_eq!((bs3.stages(), bs3.has_error_estimate()), (4, true));
    /// assert!(Tableau::new("bad", 1, vec![vec![]], vec![0.5], None, vec![0.0]).is_err()); // sum b != 1
    /// # Ok::<(), sgm_samplers::SamplerError>(())
    /// ```
    ///
    /// # Errors
    /// [`SamplerError::Core`](crate::SamplerError::Core): a `ShapeMismatch` when the rows of `a`,
    /// `b`, `b_low` or `c` do not have the lengths of an explicit `s`-stage method; a `ZeroCount`
    /// for no stages or order 0; an `InvalidParameter` for a non-finite coefficient, c_1 != 0, a
    /// row sum sum_j a_ij != c_i or weights that do not sum to 1 (the consistency conditions, to
    /// 1e-12).
    pub fn new(
        name: &'static str,
        order: usize,
        a: Vec<Vec<f64>>,
        b: Vec<f64>,
        b_low: Option<Vec<f64>>,
        c: Vec<f64>,
    ) -> crate::Result<Self> {
        use sgm_core::CoreError;
        use sgm_core::validate::require;
        let stages = sgm_core::validate::nonzero("tableau stages", b.len())?;
        sgm_core::validate::nonzero("order", order)?;
        let shape = |what: &'static str, expected: usize, found: usize| -> crate::Result<()> {
            if expected == found {
                Ok(())
            } else {
                Err(CoreError::ShapeMismatch {
                    what,
                    expected: vec![expected],
                    found: vec![found],
                }
                .into())
            }
        };
        shape("tableau rows of a", stages, a.len())?;
        shape("tableau nodes c", stages, c.len())?;
        for (i, row) in a.iter().enumerate() {
            shape(
                "tableau row of a (explicit: row i has i entries)",
                i,
                row.len(),
            )?;
        }
        if let Some(low) = &b_low {
            shape("tableau embedded weights", stages, low.len())?;
        }
        let all = a
            .iter()
            .flatten()
            .chain(&b)
            .chain(&c)
            .chain(b_low.iter().flatten());
        for &v in all {
            sgm_core::validate::finite("tableau coefficient", v)?;
        }
        require(
            c[0] == 0.0,
            "tableau node c_1",
            c[0],
            "0 for an explicit method",
        )?;
        for (row, &ci) in a.iter().zip(&c) {
            let sum: f64 = row.iter().sum();
            require(
                (sum - ci).abs() <= 1e-12,
                "tableau row sum of a",
                sum,
                "equal to its node c_i",
            )?;
        }
        for weights in std::iter::once(&b).chain(b_low.as_ref()) {
            let sum: f64 = weights.iter().sum();
            require(
                (sum - 1.0).abs() <= 1e-12,
                "tableau weight sum",
                sum,
                "1 (consistency)",
            )?;
        }
        Ok(Self {
            name,
            order,
            a,
            b,
            b_low,
            c,
        })
    }

    /// Forward Euler, order 1.
    pub fn euler() -> Self {
        Self {
            name: "Euler",
            order: 1,
            a: vec![vec![]],
            b: vec![1.0],
            b_low: None,
            c: vec![0.0],
        }
    }

    /// Heun's method (explicit trapezoidal rule), order 2.
    pub fn heun() -> Self {
        Self {
            name: "Heun",
            order: 2,
            a: vec![vec![], vec![1.0]],
            b: vec![0.5, 0.5],
            b_low: None,
            c: vec![0.0, 1.0],
        }
    }

    /// The classical Runge-Kutta method, order 4.
    pub fn rk4() -> Self {
        Self {
            name: "RK4",
            order: 4,
            a: vec![vec![], vec![0.5], vec![0.0, 0.5], vec![0.0, 0.0, 1.0]],
            b: vec![1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0],
            b_low: None,
            c: vec![0.0, 0.5, 0.5, 1.0],
        }
    }

    /// Dormand-Prince 5(4) (Dormand & Prince, J. Comput. Appl. Math. 1980), the method of
    /// MATLAB's ode45 and SciPy's RK45: 7 stages, order 5, with an embedded order-4 solution
    /// for step-size control. Its last stage is F at the new point (first same as last), so an
    /// accepted step costs 6 evaluations.
    pub fn dormand_prince() -> Self {
        Self {
            name: "Dormand-Prince 5(4)",
            order: 5,
            a: vec![
                vec![],
                vec![1.0 / 5.0],
                vec![3.0 / 40.0, 9.0 / 40.0],
                vec![44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
                vec![
                    19372.0 / 6561.0,
                    -25360.0 / 2187.0,
                    64448.0 / 6561.0,
                    -212.0 / 729.0,
                ],
                vec![
                    9017.0 / 3168.0,
                    -355.0 / 33.0,
                    46732.0 / 5247.0,
                    49.0 / 176.0,
                    -5103.0 / 18656.0,
                ],
                vec![
                    35.0 / 384.0,
                    0.0,
                    500.0 / 1113.0,
                    125.0 / 192.0,
                    -2187.0 / 6784.0,
                    11.0 / 84.0,
                ],
            ],
            b: vec![
                35.0 / 384.0,
                0.0,
                500.0 / 1113.0,
                125.0 / 192.0,
                -2187.0 / 6784.0,
                11.0 / 84.0,
                0.0,
            ],
            b_low: Some(vec![
                5179.0 / 57600.0,
                0.0,
                7571.0 / 16695.0,
                393.0 / 640.0,
                -92097.0 / 339200.0,
                187.0 / 2100.0,
                1.0 / 40.0,
            ]),
            c: vec![0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0],
        }
    }

    /// The method's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Order of accuracy p (global error O(h^p)).
    pub fn order(&self) -> usize {
        self.order
    }

    /// Number of stages.
    pub fn stages(&self) -> usize {
        self.b.len()
    }

    /// The stage matrix a (row i: a_i1 .. a_i,i-1).
    pub fn a(&self) -> &[Vec<f64>] {
        &self.a
    }

    /// The weights b of the solution.
    pub fn b(&self) -> &[f64] {
        &self.b
    }

    /// The weights b* of the embedded solution, if any.
    pub fn b_low(&self) -> Option<&[f64]> {
        self.b_low.as_deref()
    }

    /// The nodes c.
    pub fn c(&self) -> &[f64] {
        &self.c
    }

    /// Whether the tableau has an embedded error estimate (needed for adaptive steps).
    pub fn has_error_estimate(&self) -> bool {
        self.b_low.is_some()
    }

    /// Whether the last stage is F at the new point (first same as last), so that it can be
    /// reused as the next step's first stage.
    pub(crate) fn fsal(&self) -> bool {
        let last = self.stages() - 1;
        self.c[last] == 1.0
            && self.a[last].iter().zip(&self.b).all(|(a, b)| a == b)
            && self.b[last] == 0.0
    }
}
