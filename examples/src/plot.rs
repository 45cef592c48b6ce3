//! PNG plots with plotters, using the DejaVu Sans font bundled in `examples/assets` (so that no
//! system font library is needed).

use std::error::Error;
use std::path::Path;
use std::sync::Once;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// The font family name the plots use.
pub const FONT: &str = "sans-serif";

static REGISTER: Once = Once::new();

/// Registers the bundled font with plotters (once per process).
pub fn register_font() {
    REGISTER.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        plotters::style::register_font(FONT, FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("the bundled DejaVu Sans font is valid"));
    });
}

/// The drawing area of a PNG under construction.
type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// A square chart on [-range, range]^2.
type SquareChart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A white `size` canvas at `path` with `title` (font size `title_size`) in a header `header`
/// pixels high; returns the area below the header (`present` it when done).
fn titled_canvas<'a>(
    path: &'a Path,
    size: (u32, u32),
    header: u32,
    title: &str,
    title_size: u32,
) -> Result<Area<'a>, Box<dyn Error>> {
    register_font();
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, body) = root.split_vertically(header);
    top.titled(title, (FONT, title_size))?;
    Ok(body)
}

/// A square chart on [-range, range]^2 in `area` under `caption`, 5 labels per axis, with white
/// grid lines or (`grid_lines = false`) none.
fn square_chart<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    range: f64,
    grid_lines: bool,
) -> Result<SquareChart<'a, 'b>, Box<dyn Error>> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 16))
        .margin(6)
        .x_label_area_size(22)
        .y_label_area_size(34)
        .build_cartesian_2d(-range..range, -range..range)?;
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(5).y_labels(5).label_style((FONT, 11));
    if grid_lines {
        mesh.light_line_style(WHITE);
    } else {
        mesh.disable_mesh();
    }
    mesh.draw()?;
    Ok(chart)
}

/// One scatter panel: points, a square plotting window [-range, range]^2, a title.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Panel title.
    pub title: String,
    /// Points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Half-width of the square window.
    pub range: f64,
}

impl Panel {
    /// A panel from interleaved coordinates `[x0, y0, x1, y1, ...]`.
    pub fn from_flat(title: impl Into<String>, flat: &[f64], range: f64) -> Self {
        Self {
            title: title.into(),
            points: flat.chunks(2).map(|p| (p[0], p[1])).collect(),
            range,
        }
    }
}

/// Draws `panels` in a `rows` x `cols` grid of scatter plots under a `title`, into a PNG.
///
/// # Errors
/// Drawing or file errors from plotters.
pub fn scatter_grid(
    path: &Path,
    title: &str,
    rows: usize,
    cols: usize,
    panels: &[Panel],
) -> Result<(), Box<dyn Error>> {
    let (cell, header) = (320u32, 50u32);
    let size = (cols as u32 * cell, rows as u32 * cell + header);
    let body = titled_canvas(path, size, header, title, 26)?;
    for (area, panel) in body.split_evenly((rows, cols)).iter().zip(panels) {
        let r = panel.range;
        let mut chart = square_chart(area, &panel.title, r, true)?;
        chart.draw_series(
            panel
                .points
                .iter()
                .filter(|(x, y)| x.abs() <= r && y.abs() <= r)
                .map(|&(x, y)| Circle::new((x, y), 1, BLUE.mix(0.35).filled())),
        )?;
    }
    body.present()?;
    Ok(())
}

/// Flat digit images in [-1, 1] (64 values each) as images in [0, 1], one `Vec` per image,
/// for [`image_grid`].
pub fn unit_images(flat: &[f64]) -> Vec<Vec<f64>> {
    flat.chunks(sgm::data::Digits::PIXELS)
        .map(|image| image.iter().map(|v| (v + 1.0) / 2.0).collect())
        .collect()
}

/// Draws square grey-level images (values in [0, 1], row-major, `side` x `side`) in a grid of
/// `cols` columns under a `title`, into a PNG.
///
/// # Errors
/// Drawing or file errors from plotters.
pub fn image_grid(
    path: &Path,
    title: &str,
    images: &[Vec<f64>],
    side: usize,
    cols: usize,
) -> Result<(), Box<dyn Error>> {
    let (pixel, gap, header) = (10u32, 4u32, 40u32);
    let cell = side as u32 * pixel + gap;
    let rows = images.len().div_ceil(cols) as u32;
    let size = (cols as u32 * cell + gap, rows * cell + gap + header);
    let body = titled_canvas(path, size, header, title, 16)?;
    for (n, image) in images.iter().enumerate() {
        let (r, c) = ((n / cols) as u32, (n % cols) as u32);
        let (x0, y0) = ((gap + c * cell) as i32, (gap + r * cell) as i32);
        for (k, v) in image.iter().enumerate() {
            let level = (255.0 * (1.0 - v.clamp(0.0, 1.0))) as u8;
            let (px, py) = ((k % side) as i32, (k / side) as i32);
            let corner = (x0 + px * pixel as i32, y0 + py * pixel as i32);
            body.draw(&Rectangle::new(
                [corner, (corner.0 + pixel as i32, corner.1 + pixel as i32)],
                RGBColor(level, level, level).filled(),
            ))?;
        }
    }
    body.present()?;
    Ok(())
}

/// One heat-map panel: `side` x `side` values on the square [-range, range]^2 (row k of the grid
/// at y = -range + (k + 1/2) cell, column j at x likewise), shown from `low` (dark blue) to
/// `high` (red), values outside clamped.
#[derive(Debug, Clone)]
pub struct Heatmap {
    /// Panel title.
    pub title: String,
    /// Row-major values, row 0 at the bottom.
    pub values: Vec<f64>,
    /// Cells per side.
    pub side: usize,
    /// Half-width of the square window.
    pub range: f64,
    /// The value drawn darkest.
    pub low: f64,
    /// The value drawn reddest.
    pub high: f64,
}

/// Draws `panels` in a grid of `cols` columns under a `title`, into a PNG.
///
/// # Errors
/// Drawing or file errors from plotters.
pub fn heatmap_grid(
    path: &Path,
    title: &str,
    cols: usize,
    panels: &[Heatmap],
) -> Result<(), Box<dyn Error>> {
    let rows = panels.len().div_ceil(cols);
    let (cell, header) = (320u32, 50u32);
    let size = (cols as u32 * cell, rows as u32 * cell + header);
    let body = titled_canvas(path, size, header, title, 22)?;
    for (area, panel) in body.split_evenly((rows, cols)).iter().zip(panels) {
        let r = panel.range;
        let mut chart = square_chart(area, &panel.title, r, false)?;
        let h = 2.0 * r / panel.side as f64;
        let span = (panel.high - panel.low).max(f64::MIN_POSITIVE);
        chart.draw_series(panel.values.iter().enumerate().map(|(k, &v)| {
            let (x0, y0) = (
                -r + (k % panel.side) as f64 * h,
                -r + (k / panel.side) as f64 * h,
            );
            let u = ((v - panel.low) / span).clamp(0.0, 1.0);
            let color = HSLColor(0.66 * (1.0 - u), 0.85, 0.25 + 0.3 * u);
            Rectangle::new([(x0, y0), (x0 + h, y0 + h)], color.filled())
        }))?;
    }
    body.present()?;
    Ok(())
}

/// The centres of a `side` x `side` grid on [-range, range]^2, interleaved `[x0, y0, ...]`, in
/// the cell order of [`Heatmap`].
pub fn grid_points(side: usize, range: f64) -> Vec<f64> {
    let h = 2.0 * range / side as f64;
    (0..side * side)
        .flat_map(|k| {
            [
                -range + ((k % side) as f64 + 0.5) * h,
                -range + ((k / side) as f64 + 0.5) * h,
            ]
        })
        .collect()
}

/// Draws vector fields side by side: each panel gets the arrows `field` (interleaved
/// `[vx0, vy0, ...]`) at the points `points` (interleaved), scaled so that the longest arrow is
/// 1.5 cells of a 21-point grid over the window (cell 2 range / 21), under a `title`, into a PNG.
///
/// # Errors
/// Drawing or file errors from plotters.
pub fn vector_field(
    path: &Path,
    title: &str,
    points: &[f64],
    fields: &[(String, Vec<f64>)],
    range: f64,
) -> Result<(), Box<dyn Error>> {
    let (cell, header) = (360u32, 50u32);
    let size = (fields.len() as u32 * cell, cell + header);
    let body = titled_canvas(path, size, header, title, 20)?;
    for (area, (label, field)) in body.split_evenly((1, fields.len())).iter().zip(fields) {
        let mut chart = square_chart(area, label, range, true)?;
        let longest = field
            .chunks(2)
            .map(|v| v[0].hypot(v[1]))
            .fold(f64::MIN_POSITIVE, f64::max);
        let scale = 1.5 * (2.0 * range / 21.0) / longest;
        chart.draw_series(points.chunks(2).zip(field.chunks(2)).map(|(p, v)| {
            let end = (p[0] + scale * v[0], p[1] + scale * v[1]);
            PathElement::new(vec![(p[0], p[1]), end], BLUE.stroke_width(1))
        }))?;
        chart.draw_series(
            points
                .chunks(2)
                .map(|p| Circle::new((p[0], p[1]), 1, BLACK.filled())),
        )?;
    }
    body.present()?;
    Ok(())
}

/// Draws particle paths: `states[k]` holds every particle's position (interleaved) at the k-th
/// recorded time; each path runs grey to red from the first state to the last, under a
/// `title`, into a PNG.
///
/// # Errors
/// Drawing or file errors from plotters.
pub fn paths(
    path: &Path,
    title: &str,
    states: &[Vec<f64>],
    range: f64,
) -> Result<(), Box<dyn Error>> {
    let body = titled_canvas(path, (520, 570), 50, title, 14)?;
    let mut chart = ChartBuilder::on(&body)
        .margin(8)
        .x_label_area_size(22)
        .y_label_area_size(34)
        .build_cartesian_2d(-range..range, -range..range)?;
    chart
        .configure_mesh()
        .x_labels(5)
        .y_labels(5)
        .label_style((FONT, 11))
        .light_line_style(WHITE)
        .draw()?;
    let particles = states.first().map_or(0, |s| s.len() / 2);
    for i in 0..particles {
        let line: Vec<(f64, f64)> = states.iter().map(|s| (s[2 * i], s[2 * i + 1])).collect();
        chart.draw_series(line.windows(2).enumerate().map(|(k, seg)| {
            let u = k as f64 / (line.len().max(2) - 1) as f64;
            let color = RGBColor(
                (150.0 + 100.0 * u) as u8,
                (150.0 * (1.0 - u)) as u8,
                (150.0 * (1.0 - u)) as u8,
            );
            PathElement::new(vec![seg[0], seg[1]], color.stroke_width(1))
        }))?;
        if let Some(&end) = line.last() {
            chart.draw_series(std::iter::once(Circle::new(end, 2, RED.filled())))?;
        }
    }
    body.present()?;
    Ok(())
}

/// One line-chart panel: named series of (x, y) points.
#[derive(Debug, Clone)]
pub struct LinePanel {
    /// Panel title.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// (name, points) per series.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

/// Draws line-chart `panels` side by side under a `title` (axes fitted to the data, a legend per
/// panel), into a PNG.
///
/// # Errors
/// Drawing or file errors from plotters.
pub fn line_panels(path: &Path, title: &str, panels: &[LinePanel]) -> Result<(), Box<dyn Error>> {
    let (cell, header) = (460u32, 50u32);
    let size = (panels.len() as u32 * cell, 400 + header);
    let body = titled_canvas(path, size, header, title, 20)?;
    let colors = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    for (area, panel) in body.split_evenly((1, panels.len())).iter().zip(panels) {
        let points = panel.series.iter().flat_map(|(_, p)| p.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        let pad = 0.05 * (y1 - y0).max(1e-9);
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, (FONT, 16))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1.max(x0 + 1e-9), (y0 - pad)..(y1 + pad))?;
        chart
            .configure_mesh()
            .x_desc(panel.x_label.as_str())
            .y_desc(panel.y_label.as_str())
            .label_style((FONT, 11))
            .axis_desc_style((FONT, 13))
            .draw()?;
        for ((name, points), color) in panel.series.iter().zip(colors.iter().cycle()) {
            let color = *color;
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    body.present()?;
    Ok(())
}
