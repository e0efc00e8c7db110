//! Bad scenario files are rejected with file, line, column and field named; nothing panics.

use rtcbench::scenario::{self, ScenarioError};

const GROUP: &str = "[[group]]\nname = \"a\"\nreceivers = 2\n";

fn error_of(src: &str) -> (usize, usize, String, String) {
    match rtcbench::runner::load::scenario_text(src, "bad.toml") {
        Ok(_) => panic!("accepted a bad scenario:\n{src}"),
        Err(ScenarioError::Invalid {
            file,
            line,
            column,
            field,
            message,
        }) => {
            assert_eq!(file, "bad.toml");
            (line, column, field, message)
        }
        Err(other) => panic!("unexpected error kind: {other}"),
    }
}

pub(crate) fn check(src: &str, line: usize, column: usize, field: &str, words: &str) {
    let (l, c, f, m) = error_of(src);
    assert_eq!(
        (l, c, f.as_str()),
        (line, column, field),
        "message was: {m}"
    );
    assert!(m.contains(words), "message {m:?} should mention {words:?}");
}

#[test]
fn unknown_field_is_named_with_its_line() {
    check(
        &format!("name = \"x\"\nduration = \"10s\"\n[video]\nfpz = 30\n{GROUP}"),
        4,
        1,
        "video.fpz",
        "unknown field `fpz`",
    );
}

#[test]
fn wrong_type() {
    check(
        "name = \"x\"\nduration = \"10s\"\n[[group]]\nname = \"a\"\nreceivers = \"many\"\n",
        5,
        13,
        "group[0].receivers",
        "invalid type",
    );
}

#[test]
fn negative_duration() {
    check(
        &format!("name = \"x\"\nduration = \"-5s\"\n{GROUP}"),
        2,
        12,
        "duration",
        "negative",
    );
}

#[test]
fn duration_without_unit() {
    check(
        &format!("name = \"x\"\nduration = 10\n{GROUP}"),
        2,
        12,
        "duration",
        "no unit",
    );
}

#[test]
fn loss_over_100_percent() {
    check(
        &format!("name = \"x\"\nduration = \"10s\"\n[network.bad]\nloss = \"120%\"\n{GROUP}network = \"bad\"\n"),
        4,
        8,
        "network.bad.loss",
        "from 0 to 100",
    );
}

#[test]
fn zero_frame_rate() {
    check(
        &format!("name = \"x\"\nduration = \"10s\"\n[video]\nfps = 0\n{GROUP}"),
        4,
        7,
        "video.fps",
        "frame rate 0",
    );
}

#[test]
fn odd_picture_width() {
    check(
        &format!("name = \"x\"\nduration = \"10s\"\n[video]\nwidth = 641\n{GROUP}"),
        4,
        9,
        "video.width",
        "even",
    );
}

#[test]
fn unreadable_bitrate() {
    check(
        &format!("name = \"x\"\nduration = \"10s\"\n[video]\nbitrate = \"fast\"\n{GROUP}"),
        4,
        11,
        "video.bitrate",
        "not a bit rate",
    );
}

#[test]
fn more_probes_than_receivers() {
    check(
        "name = \"x\"\nduration = \"10s\"\n[[group]]\nname = \"a\"\nreceivers = 2\nprobes = 3\n",
        6,
        10,
        "group[0].probes",
        "subset",
    );
}

#[test]
fn unknown_network_profile() {
    check(
        &format!("name = \"x\"\nduration = \"10s\"\n{GROUP}network = \"5g\"\n"),
        6,
        11,
        "group[0].network",
        "no network profile named \"5g\"",
    );
}

#[test]
fn duplicate_group_names() {
    check(
        &format!("name = \"x\"\nduration = \"10s\"\n{GROUP}{GROUP}"),
        7,
        8,
        "group[1].name",
        "used twice",
    );
}

#[test]
fn missing_required_field() {
    check(
        "name = \"x\"\nduration = \"10s\"\n",
        1,
        1,
        "group",
        "missing field `group`",
    );
}

#[test]
fn toml_syntax_error() {
    check("name = \"x\"\nduration = \"10s\n", 2, 16, "(syntax)", "");
}

#[test]
fn no_truncation_of_a_valid_file_panics() {
    let good = std::fs::read_to_string("scenarios/quickstart.toml").expect("quickstart exists");
    assert!(scenario::parse(&good, "quickstart.toml").is_ok());
    for end in 0..good.len() {
        if good.is_char_boundary(end) {
            let _ = scenario::parse(&good[..end], "cut.toml");
        }
    }
}

#[test]
fn every_shipped_scenario_validates() {
    for entry in std::fs::read_dir("scenarios").expect("scenarios folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn external_publisher_without_a_room() {
    check(
        "name = \"x\"\nduration = \"5s\"\ntransport = \"webrtc\"\n[[group]]\nname = \"a\"\nreceivers = 2\npublisher = \"external\"\n",
        7,
        13,
        "group[0].room",
        "needs the room it is live in",
    );
}

#[test]
fn external_publisher_on_the_simulated_link() {
    check(
        "name = \"x\"\nduration = \"5s\"\n[[group]]\nname = \"a\"\nreceivers = 2\npublisher = \"external\"\nroom = \"r\"\n",
        6,
        13,
        "group[0].publisher",
        "transport = \"webrtc\"",
    );
}

#[test]
fn room_name_that_cannot_go_in_a_url() {
    check(
        "name = \"x\"\nduration = \"5s\"\ntransport = \"webrtc\"\n[[group]]\nname = \"a\"\nreceivers = 2\nroom = \"live room/1\"\n",
        7,
        8,
        "group[0].room",
        "goes in a URL path",
    );
}

#[test]
fn gate_with_an_unknown_metric_lists_the_known_ones() {
    let (line, _, field, message) = error_of(&format!(
        "name = \"x\"\nduration = \"5s\"\n{GROUP}[[gate]]\nmetric = \"e2e_latncy_ms\"\nstat = \"p95\"\nbelow = 50\n"
    ));
    assert_eq!(field, "gate[0].metric");
    assert_eq!(line, 7);
    assert!(
        message.contains("e2e_latency_ms") && message.contains("join_success_pct"),
        "{message}"
    );
}

#[test]
fn gate_needs_a_stat_and_one_limit() {
    let (_, _, field, message) = error_of(&format!(
        "name = \"x\"\nduration = \"5s\"\n{GROUP}[[gate]]\nmetric = \"fps\"\nbelow = 50\n"
    ));
    assert_eq!(field, "gate[0].stat", "{message}");
    let (_, _, field, _) = error_of(&format!(
        "name = \"x\"\nduration = \"5s\"\n{GROUP}[[gate]]\nmetric = \"fps\"\nstat = \"p50\"\nbelow = 50\nabove = 10\n"
    ));
    assert_eq!(field, "gate[0].below");
}

const WEBRTC: &str = "name = \"x\"\nduration = \"30s\"\ntransport = \"webrtc\"\n";

#[test]
fn http_load_typos_name_the_request_and_field() {
    let load = "[[http]]\nname = \"chat\"\nusers = 5\n[[http.request]]\nname = \"like\"\n";
    let (line, _, field, message) = error_of(&format!(
        "{WEBRTC}{GROUP}{load}path = \"/api/rooms/{{{{rom}}}}/likes\"\n"
    ));
    assert_eq!(
        (line, field.as_str()),
        (12, "http[0].request[0].path"),
        "{message}"
    );
    assert!(message.contains("unknown placeholder {{rom}}"), "{message}");
    let (_, _, field, message) = error_of(&format!(
        "{WEBRTC}{GROUP}{load}path = \"/likes\"\nmethod = \"FETCH\"\n"
    ));
    assert_eq!(field, "http[0].request[0].method");
    assert!(message.contains("GET, POST"), "{message}");
    let (_, _, field, _) = error_of(&format!(
        "{WEBRTC}{GROUP}[[http]]\nname = \"chat\"\nusers = 5\ntarget = \"ftp://shop\"\n[[http.request]]\nname = \"l\"\npath = \"/l\"\n"
    ));
    assert_eq!(field, "http[0].target");
    let (_, _, field, _) = error_of(&format!(
        "{WEBRTC}{GROUP}[[http]]\nname = \"chat\"\nusers = 5\nco_mitigation = \"sometimes\"\n[[http.request]]\nname = \"l\"\npath = \"/l\"\n"
    ));
    assert_eq!(field, "http[0].co_mitigation");
    let (_, _, field, message) = error_of(&format!(
        "name = \"x\"\nduration = \"30s\"\n{GROUP}[[http]]\nname = \"chat\"\nusers = 5\n[[http.request]]\nname = \"l\"\npath = \"/l\"\n"
    ));
    assert_eq!(field, "http[0].target");
    assert!(message.contains("transport = \"webrtc\""), "{message}");
}

#[test]
fn cohost_groups_are_checked() {
    let cohost = "[[group]]\nname = \"pk\"\nkind = \"cohost\"\nreceivers = 4\n";
    let (line, _, field, message) = error_of(&format!("{WEBRTC}{cohost}hosts = 1\n"));
    assert_eq!((line, field.as_str()), (8, "group[0].hosts"), "{message}");
    let (_, _, field, message) = error_of(&format!(
        "{WEBRTC}{cohost}hosts = 2\npk = [{{ start = \"20s\", end = \"10s\" }}]\n"
    ));
    assert_eq!(field, "group[0].pk[0]");
    assert!(message.contains("ends after it starts"), "{message}");
    let (_, _, field, _) = error_of(&format!(
        "{WEBRTC}{cohost}hosts = 2\nswitch_to_call = \"40s\"\n"
    ));
    assert_eq!(field, "group[0].switch_to_call");
    let (_, _, field, _) = error_of(&format!("{WEBRTC}{GROUP}hosts = 2\n"));
    assert_eq!(field, "group[0].hosts");
    // A gate may name the host links of a co-hosting group, and nothing else made up.
    let ok = format!(
        "{WEBRTC}{cohost}hosts = 2\n[[gate]]\nmetric = \"switch_ms\"\nstat = \"max\"\nbelow = 900\ngroup = \"pk/hosts\"\n"
    );
    scenario::parse(&ok, "ok.toml").unwrap_or_else(|e| panic!("{e}"));
    let (_, _, field, _) = error_of(&ok.replace("pk/hosts", "pk/guests"));
    assert_eq!(field, "gate[0].group");
}

#[test]
fn abort_on_fail_needs_a_live_metric_and_webrtc() {
    let gate = "[[gate]]\nmetric = \"join_success_pct\"\nabove = 99\nabort_on_fail = true\n";
    let (_, _, field, message) = error_of(&format!("{WEBRTC}{GROUP}{gate}"));
    assert_eq!(field, "gate[0].abort_on_fail");
    assert!(message.contains("judged when the run ends"), "{message}");
    let live = "[[gate]]\nmetric = \"fps\"\nstat = \"p50\"\nabove = 20\nabort_on_fail = true\n";
    let simulated = format!("name = \"x\"\nduration = \"30s\"\n{GROUP}{live}");
    let (_, _, field, _) = error_of(&simulated);
    assert_eq!(field, "gate[0].abort_on_fail");
    let (_, _, field, _) = error_of(&format!(
        "{WEBRTC}{GROUP}[[gate]]\nmetric = \"fps\"\nstat = \"p50\"\nabove = 20\nabort_after = \"5s\"\n"
    ));
    assert_eq!(field, "gate[0].abort_after");
}

#[test]
fn impairment_only_the_webrtc_layer_does_is_refused_on_the_simulated_link() {
    let (_, _, field, message) = error_of(
        "name = \"x\"\nduration = \"5s\"\n[network.bursty]\nloss = \"5%\"\nburst = 3.0\n\
         [[group]]\nname = \"a\"\nreceivers = 2\nnetwork = \"bursty\"\n",
    );
    assert_eq!(field, "group[0].network");
    assert!(message.contains("impairment layer"), "{message}");
    let (_, _, field, message) = error_of(&format!("{WEBRTC}{GROUP}publisher_network = \"5g\"\n"));
    assert_eq!(field, "group[0].publisher_network");
    assert!(
        message.contains("no network profile named \"5g\""),
        "{message}"
    );
    let (_, _, _, message) = error_of(&format!("{WEBRTC}{GROUP}network = \"lte\"\n"));
    assert!(
        message.contains("4g") && message.contains("cross-border"),
        "{message}"
    );
    // Built-in profiles are known to WebRTC scenarios without a definition.
    scenario::parse(
        &format!("{WEBRTC}{GROUP}network = \"handover\"\n"),
        "ok.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn faults_and_reconnect_are_checked() {
    let fault = |body: &str| format!("{WEBRTC}{GROUP}[[fault]]\n{body}\n");
    let (line, _, field, message) = error_of(&fault(
        "kind = \"blackhole\"\nstart = \"10s\"\nend = \"5s\"",
    ));
    // The field's own line, not its table's.
    assert_eq!((line, field.as_str()), (10, "fault[0].end"), "{message}");
    assert!(message.contains("ends after it starts"), "{message}");
    let (_, _, field, message) = error_of(&fault(
        "kind = \"blackhole\"\nstart = \"1s\"\nend = \"2s\"\ngroups = [\"b\"]",
    ));
    assert_eq!(field, "fault[0].groups");
    assert!(message.contains("no group named \"b\""), "{message}");
    let (_, _, field, _) = error_of(&fault(
        "kind = \"restart\"\nstart = \"1s\"\nend = \"2s\"\nstatus = 500",
    ));
    assert_eq!(field, "fault[0].status");
    let (_, _, field, _) = error_of(&fault(
        "kind = \"signalling-error\"\nstart = \"1s\"\nend = \"2s\"\nstatus = 302",
    ));
    assert_eq!(field, "fault[0].status");
    let (_, _, field, message) =
        error_of(&fault("kind = \"reboot\"\nstart = \"1s\"\nend = \"2s\""));
    assert_eq!(field, "fault[0].kind", "{message}");
    let simulated = format!(
        "name = \"x\"\nduration = \"30s\"\n{GROUP}[[fault]]\nkind = \"blackhole\"\nstart = \"1s\"\nend = \"2s\"\n"
    );
    let (_, _, field, message) = error_of(&simulated);
    assert_eq!(field, "fault[0]");
    assert!(message.contains("webrtc"), "{message}");
    let (_, _, field, _) = error_of(&format!("{WEBRTC}{GROUP}[reconnect]\nattempts = 0\n"));
    assert_eq!(field, "reconnect.attempts");
    let (_, _, field, _) = error_of(&format!("{WEBRTC}{GROUP}[reconnect]\nafter = \"100ms\"\n"));
    assert_eq!(field, "reconnect.after");
    scenario::parse(
        &fault("kind = \"signalling-timeout\"\nstart = \"1s\"\nend = \"2s\"\n[reconnect]\nmode = \"none\"\nattempts = 0"),
        "ok.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn shares_of_viewers_on_other_networks_are_checked() {
    let share = |list: &str| format!("{WEBRTC}{GROUP}networks = [{list}]\n");
    let (_, _, field, message) = error_of(&share("{ profile = \"5g\", share = \"20%\" }"));
    assert_eq!(field, "group[0].networks[0]");
    assert!(
        message.contains("no network profile named \"5g\""),
        "{message}"
    );
    let (_, _, field, message) = error_of(&share(
        "{ profile = \"4g\", share = \"60%\" }, { profile = \"3g\", share = \"40%\" }",
    ));
    assert_eq!(field, "group[0].networks[1]");
    assert!(message.contains("under 100 %"), "{message}");
    let simulated = format!("name = \"x\"\nduration = \"30s\"\n{GROUP}networks = [{{ profile = \"4g\", share = \"20%\" }}]\n");
    let (_, _, field, _) = error_of(&simulated);
    assert_eq!(field, "group[0].networks[0]");
    // A gate may name a share's group.
    let ok = format!(
        "{}[[gate]]\nmetric = \"fps\"\nstat = \"p50\"\nabove = 20\ngroup = \"a@4g\"\n",
        share("{ profile = \"4g\", share = \"20%\" }")
    );
    let s = scenario::parse(&ok, "ok.toml").unwrap_or_else(|e| panic!("{e}"));
    let plan = rtcbench::plan::build(&s, 1, None);
    let names: Vec<(&str, usize)> = plan
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.receivers.len()))
        .collect();
    assert_eq!(
        names,
        [("a", 2), ("a@4g", 0)],
        "2 viewers, 20 %: none on 4g yet"
    );
}

#[test]
fn the_kernel_path_refuses_what_only_the_user_layer_does() {
    let (_, _, field, message) = error_of(&format!(
        "{WEBRTC}[network.k]\npath = \"kernel\"\nloss = \"5%\"\nburst = 3.0\n{GROUP}network = \"k\"\n"
    ));
    assert_eq!(field, "network.k.burst");
    assert!(message.contains("path = \"user\""), "{message}");
    let (_, _, field, _) = error_of(
        "name = \"x\"\nduration = \"5s\"\n[network.k]\npath = \"kernel\"\nloss = \"5%\"\n\
         [[group]]\nname = \"a\"\nreceivers = 2\nnetwork = \"k\"\n",
    );
    assert_eq!(field, "group[0].network");
    let (_, _, field, _) = error_of(&format!(
        "{WEBRTC}[network.k]\npath = \"namespace\"\n{GROUP}network = \"k\"\n"
    ));
    assert_eq!(field, "network.k.path");
}

#[test]
fn scoring_overrides_name_the_unknown_metric_and_backwards_thresholds() {
    check(
        &format!(
            "name = \"x\"\nduration = \"10s\"\n{GROUP}[scoring.metric.e2e_p95]\nexcellent = 1\n"
        ),
        6,
        2,
        "scoring",
        "metric.e2e_p95: no such scored metric",
    );
    check(
        &format!("name = \"x\"\nduration = \"10s\"\n{GROUP}[scoring.metric.freeze_time_pct]\nexcellent = 9\n"),
        6,
        2,
        "scoring",
        "metric.freeze_time_pct: thresholds must run",
    );
    // An unknown key in [scoring] is a parse error with its line.
    check(
        &format!("name = \"x\"\nduration = \"10s\"\n{GROUP}[scoring.weights]\nlatncy = 1\n"),
        7,
        1,
        "scoring.weights",
        "latncy",
    );
}

/// One mistake does not hide the next: every check's problem is reported, in file order, each
/// at its own line.
#[test]
fn every_problem_of_a_scenario_is_reported_at_its_line() {
    let src = "name = \"x\"\nduration = \"0s\"\n[[group]]\nname = \"g\"\nreceivers = 1\nprobes = 5\n\
               [[gate]]\nmetric = \"e2e_latency_ms\"\nstat = \"p95\"\nbelow = 40\ngroup = \"nope\"\n";
    let e = rtcbench::runner::load::scenario_text(src, "bad.toml").expect_err("three problems");
    let ScenarioError::Several(all) = &e else {
        panic!("one problem reported: {e}")
    };
    let places: Vec<(usize, String)> = all
        .iter()
        .map(|p| match p {
            ScenarioError::Invalid { line, field, .. } => (*line, field.clone()),
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        places,
        [
            (2, "duration".to_string()),
            (6, "group[0].probes".to_string()),
            (11, "gate[0].group".to_string()),
        ]
    );
}

#[test]
fn cdn_audience_shares_are_checked_with_their_place() {
    let room = |audience: &str| {
        format!("name = \"x\"\nduration = \"10s\"\ntransport = \"webrtc\"\n[[group]]\nname = \"a\"\nreceivers = 4\naudience = [{audience}]\n")
    };
    check(
        &room("{ protocol = \"hls\", share = \"60%\" }, { protocol = \"hls\", share = \"10%\" }"),
        7,
        50,
        "group[0].audience[1]",
        "hls is listed twice",
    );
    check(
        &room(
            "{ protocol = \"hls\", share = \"70%\" }, { protocol = \"ll-hls\", share = \"40%\" }",
        ),
        7,
        50,
        "group[0].audience[1]",
        "together at most 100 %",
    );
    check(
        &room("{ protocol = \"dash\", share = \"50%\" }"),
        7,
        26,
        "group[0].audience[0].protocol",
        "unknown variant `dash`",
    );
    check(
        "name = \"x\"\nduration = \"10s\"\n[[group]]\nname = \"a\"\nreceivers = 4\naudience = [{ protocol = \"hls\", share = \"50%\" }]\n",
        6,
        13,
        "group[0].audience[0]",
        "transport = \"webrtc\"",
    );
}
