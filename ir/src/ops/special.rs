//! Special functions of the reference interpreter, in f64: the error function and its
//! complement, accurate relative to their value (the GPU has its own fits, `codegen/src/ops.rs`).

/// The complementary error function `1 - erf(x)`, accurate relative to its value (about
/// 1e-13 relative for `x >= 0`, where it is small; reference use only). It underflows to 0
/// for `x > 27.2` and is 2 for `x < -6`.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.5 {
        // erfc >= 4e-4 here, so `1 - erf` loses at most 12 bits of f64's 53.
        return 1.0 - erf(x);
    }
    if x > 27.3 {
        return 0.0;
    }
    // Continued fraction: erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
    let mut f = x;
    for k in (1..80).rev() {
        f = x + (k as f64 / 2.0) / f;
    }
    // exp(-x^2) with x^2 split so that its rounding error does not scale the result: x = h + l
    // with h holding 26 bits, h^2 exact.
    let h = f64::from_bits(x.to_bits() & !((1u64 << 27) - 1));
    let l = x - h;
    (-h * h).exp() * (-l * (x + h)).exp() / (std::f64::consts::PI.sqrt() * f)
}

/// The error function, accurate to about 1e-15 (reference use only).
pub fn erf(x: f64) -> f64 {
    // erf via its Maclaurin series for small |x| and a continued fraction of erfc otherwise.
    let ax = x.abs();
    let r = if ax < 2.5 {
        let mut sum = ax;
        let mut term = ax;
        let x2 = ax * ax;
        let mut n = 0.0;
        loop {
            n += 1.0;
            term *= -x2 / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() <= 1e-17 * sum.abs() || n > 200.0 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // Lentz's continued fraction for erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + ...))).
        let mut f = ax;
        for k in (1..60).rev() {
            f = ax + (k as f64 / 2.0) / f;
        }
        1.0 - (-ax * ax).exp() / (std::f64::consts::PI.sqrt() * f)
    };
    if x < 0.0 {
        -r
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_known_values() {
        assert!((erf(0.5) - 0.520_499_877_813_046_5).abs() < 1e-14);
        assert!((erf(-1.0) + 0.842_700_792_949_714_9).abs() < 1e-14);
        assert!((erf(3.0) - 0.999_977_909_503_001_4).abs() < 1e-14);
        assert_eq!(erf(0.0), 0.0);
    }

    #[test]
    fn erfc_is_accurate_relative_to_its_value() {
        // Values from mpmath (50 digits).
        for (x, want) in [
            (0.5, 0.479_500_122_186_953_5),
            (2.0, 4.677_734_981_047_266e-3),
            (3.0, 2.209_049_699_858_544e-5),
            (3.4, 1.521_993_362_862_286_3e-6),
            (4.1854, 3.238_076_167_217_474e-9),
            (7.0, 4.183_825_607_779_414e-23),
            (10.0, 2.088_487_583_762_545e-45),
        ] {
            let got = erfc(x);
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "erfc({x}) = {got}, not {want}"
            );
        }
        assert_eq!(erfc(-40.0), 2.0);
        assert_eq!(erfc(40.0), 0.0);
        assert!(erfc(f64::NAN).is_nan());
    }
}
