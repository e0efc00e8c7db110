//! Simulcast layers in a scenario: `[video] simulcast = [...]` lists the layers below the top
//! one (`[video]`'s own size and rate), each a power-of-two scale-down of it, as a browser's
//! `scaleResolutionDownBy`.

use super::schema::{FrameRate, GroupKind, GroupSpec, Scenario};
use super::Problem;
use crate::base::units::{Bitrate, HumanDuration};
use serde::{Deserialize, Serialize};

/// Layers a publisher may send below the top one (three layers in all, as browsers send).
pub const MAX_LOWER_LAYERS: usize = 2;
/// The narrowest layer the pixel marker can be read from.
const MIN_LAYER_WIDTH: u32 = 160;

/// One layer below the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// Width and height are the top layer's divided by this: 2, 4 or 8.
    pub scale_down: u32,
    pub bitrate: Bitrate,
    /// Defaults to the top layer's frame rate.
    #[serde(default)]
    pub fps: Option<FrameRate>,
}

pub fn validate(s: &Scenario) -> Result<(), Problem> {
    let layers = &s.video.simulcast;
    let at = |what: String| Err((None, "video.simulcast".to_string(), what));
    if layers.len() > MAX_LOWER_LAYERS {
        return at(format!(
            "{} layers below the top are listed; at most {MAX_LOWER_LAYERS} are allowed (3 in all)",
            layers.len()
        ));
    }
    let (width, height) = (s.video.width.0, s.video.height.0);
    let mut scales = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let k = layer.scale_down;
        if !matches!(k, 2 | 4 | 8) {
            return at(format!(
                "layer {}: scale_down {k} is not allowed; use 2, 4 or 8",
                i + 1
            ));
        }
        if scales.contains(&k) {
            return at(format!("layer {}: scale_down {k} is listed twice", i + 1));
        }
        scales.push(k);
        if width / k < MIN_LAYER_WIDTH || width % (2 * k) != 0 || height % (2 * k) != 0 {
            return at(format!(
                "layer {}: {width}x{height} scaled down by {k} is not a picture the marker fits \
                 (at least {MIN_LAYER_WIDTH} wide, even sides)",
                i + 1
            ));
        }
        if layer.bitrate.bps() >= s.video.bitrate.bps() {
            return at(format!(
                "layer {}: {} kbps is not below the top layer's {} kbps",
                i + 1,
                layer.bitrate.kbps(),
                s.video.bitrate.kbps()
            ));
        }
        if layer.fps.is_some_and(|f| s.video.fps.0 % f.0 != 0) {
            return at(format!(
                "layer {}: its frame rate must divide the top layer's {} fps",
                i + 1,
                s.video.fps.0
            ));
        }
    }
    Ok(())
}

/// A layer a room's viewers ask their provider for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerChoice {
    /// The provider chooses again (from the viewer's bandwidth).
    Auto,
    /// The smallest layer.
    Low,
    /// The middle one of three.
    Mid,
    /// The top layer.
    High,
}

/// An ask at a given time from the group's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LayerStep {
    pub at: HumanDuration,
    pub layer: LayerChoice,
}

/// A group's `layer` and `layer_schedule`: room viewers only, of a publisher that sends the
/// layers asked for, at increasing times within the run.
pub fn validate_asks(s: &Scenario, i: usize, g: &GroupSpec) -> Result<(), Problem> {
    let first = g.layer.as_ref().map(|l| (l.span(), *l.get_ref()));
    let steps = g
        .layer_schedule
        .iter()
        .map(|step| (step.span(), step.get_ref().layer));
    let asks: Vec<_> = first.into_iter().chain(steps).collect();
    let Some((span, _)) = asks.first().cloned() else {
        return Ok(());
    };
    let field = if g.layer.is_some() {
        format!("group[{i}].layer")
    } else {
        format!("group[{i}].layer_schedule")
    };
    let problem =
        |span: std::ops::Range<usize>, field: String, what: String| Err((Some(span), field, what));
    if g.kind != GroupKind::Room {
        return problem(span, field, "only a room's viewers ask for a layer".into());
    }
    if s.video.simulcast.is_empty() {
        return problem(
            span,
            field,
            "the publisher sends one layer: list the layers below the top in [video] simulcast"
                .into(),
        );
    }
    for (span, choice) in &asks {
        if *choice == LayerChoice::Mid && s.video.simulcast.len() < MAX_LOWER_LAYERS {
            return problem(
                span.clone(),
                field.clone(),
                "\"mid\" needs three layers; [video] simulcast lists one below the top".into(),
            );
        }
    }
    let mut last = None;
    for (k, step) in g.layer_schedule.iter().enumerate() {
        let at = step.get_ref().at.0;
        let field = format!("group[{i}].layer_schedule[{k}].at");
        if last.is_some_and(|l| at <= l) {
            return problem(step.span(), field, "asks must come in time order".into());
        }
        if g.start.0 + at >= s.duration.0 {
            return problem(step.span(), field, "comes after the run ends".into());
        }
        last = Some(at);
    }
    Ok(())
}
