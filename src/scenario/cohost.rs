//! Checks for co-hosting groups (`kind = "cohost"`): hosts, PK rounds and the switch to a call.

use super::{GroupKind, GroupSpec, Problem, Scenario, Transport};

pub fn validate(s: &Scenario, g: &GroupSpec, at: &dyn Fn(&str) -> String) -> Result<(), Problem> {
    if g.kind != GroupKind::Cohost {
        if *g.hosts.get_ref() != 0 {
            return Err((
                Some(g.hosts.span()),
                at("hosts"),
                "hosts are for kind = \"cohost\"".into(),
            ));
        }
        if let Some(round) = g.pk.first() {
            return Err((
                Some(round.span()),
                at("pk"),
                "PK rounds are for kind = \"cohost\"".into(),
            ));
        }
        if let Some(sw) = &g.switch_to_call {
            return Err((
                Some(sw.span()),
                at("switch_to_call"),
                "switch_to_call is for kind = \"cohost\"".into(),
            ));
        }
        return Ok(());
    }
    if s.transport != Transport::Webrtc {
        return Err((
            None,
            at("kind"),
            "co-hosting needs transport = \"webrtc\"".into(),
        ));
    }
    if *g.hosts.get_ref() < 2 {
        return Err((
            Some(g.hosts.span()),
            at("hosts"),
            "co-hosting links 2 or more hosts; set hosts = 2 or more".into(),
        ));
    }
    if *g.receivers.get_ref() == 0 {
        return Err((
            Some(g.receivers.span()),
            at("receivers"),
            "the hosts need an audience: receivers = 1 or more".into(),
        ));
    }
    if *g.pairs.get_ref() != 0 || !g.stages.is_empty() || g.room.is_some() {
        return Err((
            None,
            at("kind"),
            "a cohost group sets hosts, receivers, stagger, pk and switch_to_call; leave pairs, stages and room out".into(),
        ));
    }
    let length = s.duration.0.saturating_sub(g.start.0);
    let mut last_end = std::time::Duration::ZERO;
    for (k, round) in g.pk.iter().enumerate() {
        let r = round.get_ref();
        let bad = |m: &str| Err((Some(round.span()), at(&format!("pk[{k}]")), m.to_string()));
        if r.end.0 <= r.start.0 {
            return bad("a PK round ends after it starts");
        }
        if r.start.0 < last_end {
            return bad("PK rounds must not overlap and must be in order");
        }
        if r.end.0 > length {
            return bad("the PK round ends after the group does");
        }
        last_end = r.end.0;
    }
    if let Some(sw) = &g.switch_to_call {
        if sw.get_ref().0.is_zero() || sw.get_ref().0 >= length {
            return Err((
                Some(sw.span()),
                at("switch_to_call"),
                "the switch must come after the group starts and before it ends".into(),
            ));
        }
    }
    Ok(())
}
