//! The significance test of `prof diff`.
//!
//! Each function's sample count in a profile is treated as a binomial draw: of the profile's N
//! samples, X landed in the function (inclusive, "total"). Whether the function's share changed
//! between BASE and NEW is a two-proportion z-test with the pooled proportion:
//!
//! ```text
//! p1 = X1/N1, p2 = X2/N2, p = (X1+X2)/(N1+N2)
//! z  = (p2 - p1) / sqrt(p (1-p) (1/N1 + 1/N2)),   two-sided p-value = erfc(|z| / √2)
//! ```
//!
//! Every function is tested, so some would look significant by chance; the p-values are
//! corrected with Benjamini–Hochberg (false discovery rate) and a change is significant when its
//! adjusted q-value is at most α (0.01 by default, `--alpha`).

/// Two-sided p-value of the two-proportion z-test of `x1` of `n1` against `x2` of `n2`.
/// 1.0 when there is no variance (both shares 0 or both 1) or a profile is empty.
pub fn two_proportion_p(x1: u64, n1: u64, x2: u64, n2: u64) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let (x1, n1, x2, n2) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let p = (x1 + x2) / (n1 + n2);
    let var = p * (1.0 - p) * (1.0 / n1 + 1.0 / n2);
    if var <= 0.0 {
        return 1.0;
    }
    let z = (x2 / n2 - x1 / n1) / var.sqrt();
    libm::erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

/// Benjamini–Hochberg adjusted q-values, in the order of `p_values`.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut q = vec![1.0; m];
    let mut running_min = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        let adjusted = p_values[i] * m as f64 / (rank + 1) as f64;
        running_min = running_min.min(adjusted);
        q[i] = running_min.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known values: equal shares give p = 1; 200/1000 vs 400/1000 is overwhelming; 2/10 vs
    /// 4/10 is not significant (z ≈ 0.98, p ≈ 0.33).
    #[test]
    fn stats_two_proportion_known_values() {
        assert_eq!(two_proportion_p(100, 1000, 100, 1000), 1.0);
        assert!(two_proportion_p(200, 1000, 400, 1000) < 1e-15);
        let p = two_proportion_p(2, 10, 4, 10);
        assert!((p - 0.3291).abs() < 0.001, "{p}");
        assert_eq!(two_proportion_p(0, 10, 0, 10), 1.0);
        assert_eq!(two_proportion_p(5, 0, 1, 10), 1.0);
    }

    /// BH q-values match a hand-computed example and never decrease with p.
    #[test]
    fn stats_benjamini_hochberg_example() {
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.2]);
        // sorted: 0.01→0.04, 0.03→0.06→min(0.06,0.0533)=0.0533, 0.04→0.0533, 0.2→0.2
        let expect = [0.04, 0.053333, 0.053333, 0.2];
        for (a, b) in q.iter().zip(expect) {
            assert!((a - b).abs() < 1e-5, "{q:?}");
        }
    }
}
