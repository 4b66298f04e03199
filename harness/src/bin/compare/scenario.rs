//! The scenarios of issue 6, at full size or shrunk for a quick check.

/// One workload: what every client is asked to do.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Short id used in tables and on the command line: `S1-64`, `S3`, ...
    pub id: &'static str,
    /// What it measures, for the tables' headings.
    pub title: String,
    pub path: String,
    pub n: usize,
    pub c: usize,
    pub h2c: bool,
    pub stream: bool,
    /// Record the peak RSS after this many results as well (S5).
    pub rss_at: Option<usize>,
    /// The wall time no client can beat (the delay × the rounds it needs).
    pub ideal_s: Option<f64>,
    /// Also run wrk over it (for a duration) as the load-generator floor.
    pub wrk: bool,
}

impl Scenario {
    fn new(id: &'static str, path: &str, n: usize, c: usize) -> Self {
        Scenario {
            id,
            title: String::new(),
            path: path.to_owned(),
            n,
            c,
            h2c: false,
            stream: false,
            rss_at: None,
            ideal_s: None,
            wrk: false,
        }
    }

    /// `n` requests of `delay_ms` each, `c` at a time, take at least this.
    fn ideal(mut self, delay_ms: usize) -> Self {
        let rounds = self.n.div_ceil(self.c);
        self.ideal_s = Some(rounds as f64 * delay_ms as f64 / 1000.0);
        self
    }
}

/// The scenarios, full size, or divided down when `quick` (a smoke run
/// that shows the harness works, not figures to quote).
pub fn all(quick: bool) -> Vec<Scenario> {
    let k = if quick { 10 } else { 1 };
    let mut s1a = Scenario::new("S1-64", "/fast", 20_000 / k, 64);
    s1a.title = format!("{} requests to /fast at C=64 (HTTP/1.1)", s1a.n);
    let mut s1b = Scenario::new("S1-256", "/fast", 20_000 / k, 256);
    s1b.title = format!("{} requests to /fast at C=256 (HTTP/1.1)", s1b.n);
    // wrk: the floor for CPU per request (issue 21's goal).
    s1a.wrk = true;
    s1b.wrk = true;
    let mut s2 = Scenario::new("S2", "/delay/100", 5_000 / k, 500).ideal(100);
    s2.title = format!("{} requests to /delay/100 at C=500", s2.n);
    s2.wrk = true;
    let c3 = 10_000 / k;
    let mut s3 = Scenario::new("S3", "/delay/1000", 2 * c3, c3).ideal(1000);
    s3.title = format!("{} requests to /delay/1000 at C={}", s3.n, s3.c);
    let mut s4 = Scenario::new("S4", "/fast", 20_000 / k, 64);
    s4.h2c = true;
    s4.title = format!(
        "{} requests to /fast at C=64 over h2c (one connection)",
        s4.n
    );
    let n5 = 1_000_000 / (k * k);
    let mut s5 = Scenario::new("S5", "/fast", n5, 100);
    s5.stream = true;
    s5.rss_at = Some(n5 / 10);
    s5.title = format!(
        "{} requests to /fast streamed at C=100, peak RSS after {} and after all",
        n5,
        n5 / 10
    );
    vec![s1a, s1b, s2, s3, s4, s5]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_s_scenarios_at_full_size() {
        let all = all(false);
        let get = |id: &str| all.iter().find(|s| s.id == id).unwrap();
        assert_eq!((get("S1-64").n, get("S1-64").c), (20_000, 64));
        assert_eq!((get("S1-256").n, get("S1-256").c), (20_000, 256));
        assert_eq!(
            (get("S2").n, get("S2").c, get("S2").ideal_s),
            (5_000, 500, Some(1.0))
        );
        assert_eq!(
            (get("S3").n, get("S3").c, get("S3").ideal_s),
            (20_000, 10_000, Some(2.0))
        );
        let s5 = get("S5");
        assert_eq!(
            (s5.n, s5.stream, s5.rss_at),
            (1_000_000, true, Some(100_000))
        );
    }
}
