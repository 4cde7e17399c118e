//! Choosing the next token from logits: greedy, or a seeded draw after top-k and top-p
//! (nucleus, on the probabilities at temperature 1) filtering and temperature, in llama.cpp's
//! order.

use super::LlmError;

/// Sampling settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// 0: greedy (the largest logit, the lowest id on a tie); else logits are divided by it.
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the most likely tokens whose probabilities first add up to `top_p` (1: all).
    pub top_p: f32,
    /// The seed of the draws: the same seed and logits give the same tokens.
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

/// A sampler: the settings and the state of its random stream.
#[derive(Clone, Debug)]
pub struct Sampler {
    cfg: Sampling,
    state: u64,
}

impl Sampler {
    /// A sampler with checked settings: a finite temperature of at least 0 and `top_p` in
    /// (0, 1].
    pub fn new(cfg: Sampling) -> Result<Sampler, LlmError> {
        if !(cfg.temperature.is_finite() && cfg.temperature >= 0.0) {
            return Err(LlmError::Sampling(format!(
                "temperature {} is not a finite value of at least 0",
                cfg.temperature
            )));
        }
        if !(cfg.top_p > 0.0 && cfg.top_p <= 1.0) {
            return Err(LlmError::Sampling(format!(
                "top_p {} is not in (0, 1]",
                cfg.top_p
            )));
        }
        Ok(Sampler {
            cfg,
            state: cfg.seed ^ 0x9e37_79b9_7f4a_7c15,
        })
    }

    /// SplitMix64: a uniform draw on [0, 1).
    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next token for `logits` (NaN counts as the least likely). An empty slice is an
    /// error.
    pub fn sample(&mut self, logits: &[f32]) -> Result<u32, LlmError> {
        if logits.is_empty() {
            return Err(LlmError::Sampling("no logits".into()));
        }
        let key = |x: f32| if x.is_nan() { f32::NEG_INFINITY } else { x };
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        // Descending logit, ascending id on a tie.
        order.sort_by(|&a, &b| {
            key(logits[b as usize])
                .total_cmp(&key(logits[a as usize]))
                .then(a.cmp(&b))
        });
        if self.cfg.temperature == 0.0 {
            return Ok(order[0]);
        }
        if self.cfg.top_k > 0 {
            order.truncate(self.cfg.top_k);
        }
        let top = key(logits[order[0] as usize]) as f64;
        if !top.is_finite() {
            // An infinite largest logit, or none finite: nothing to weigh.
            return Ok(order[0]);
        }
        // Probabilities at temperature 1 choose the nucleus; the temperature then reshapes
        // the draw among what is kept (llama.cpp's order: top-k, top-p, temperature).
        let weights = |t: f64| -> Vec<f64> {
            let w: Vec<f64> = order
                .iter()
                .map(|&i| ((key(logits[i as usize]) as f64 - top) / t).exp())
                .collect();
            let total: f64 = w.iter().sum();
            w.into_iter().map(|x| x / total).collect()
        };
        let p1 = weights(1.0);
        let mut keep = p1.len();
        let mut acc = 0.0;
        for (i, &x) in p1.iter().enumerate() {
            acc += x;
            if acc >= self.cfg.top_p as f64 {
                keep = i + 1;
                break;
            }
        }
        let p = weights(self.cfg.temperature as f64);
        let mass: f64 = p[..keep].iter().sum();
        let mut u = self.uniform() * mass;
        for (i, &x) in p[..keep].iter().enumerate() {
            if u < x {
                return Ok(order[i]);
            }
            u -= x;
        }
        Ok(order[keep - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGITS: [f32; 5] = [1.0, 3.0, f32::NAN, 3.0, 2.0];

    #[test]
    fn greedy_takes_the_largest_lowest_id_first() {
        let mut s = Sampler::new(Sampling::default()).unwrap();
        assert_eq!(s.sample(&LOGITS).unwrap(), 1);
        let mut k1 = Sampler::new(Sampling {
            temperature: 5.0,
            top_k: 1,
            ..Sampling::default()
        })
        .unwrap();
        assert_eq!(k1.sample(&LOGITS).unwrap(), 1);
    }

    #[test]
    fn draws_follow_the_filtered_distribution_and_the_seed() {
        let cfg = Sampling {
            temperature: 1.0,
            top_k: 3,
            top_p: 1.0,
            seed: 7,
        };
        let draw = |cfg| {
            let mut s = Sampler::new(cfg).unwrap();
            (0..4000)
                .map(|_| s.sample(&LOGITS).unwrap())
                .collect::<Vec<_>>()
        };
        let a = draw(cfg);
        assert_eq!(a, draw(cfg));
        assert_ne!(a, draw(Sampling { seed: 8, ..cfg }));
        // top-k 3 keeps ids 1, 3 (e^0 each) and 4 (e^-1): 0.42, 0.42, 0.16.
        let share = |id| a.iter().filter(|&&x| x == id).count() as f64 / a.len() as f64;
        assert!(share(0) == 0.0 && share(2) == 0.0);
        assert!((share(1) - 0.4223).abs() < 0.03, "{}", share(1));
        assert!((share(4) - 0.1554).abs() < 0.03, "{}", share(4));
        // top-p 0.5 keeps the first two only.
        let b = draw(Sampling { top_p: 0.5, ..cfg });
        assert!(b.iter().all(|&x| x == 1 || x == 3));
        // The nucleus is chosen at temperature 1: logits [2, 1, 0] with top-p 0.8 keep two
        // tokens (0.665 + 0.245 covers it) at any temperature, where the probabilities at
        // temperature 3 (0.448, 0.321, 0.230) would need all three.
        let hot = Sampling {
            temperature: 3.0,
            top_k: 0,
            top_p: 0.8,
            seed: 1,
        };
        let mut s = Sampler::new(hot).unwrap();
        let c: Vec<u32> = (0..2000)
            .map(|_| s.sample(&[2.0, 1.0, 0.0]).unwrap())
            .collect();
        assert!(c.contains(&0) && c.contains(&1) && !c.contains(&2));
        // An infinite logit wins outright.
        let mut s = Sampler::new(cfg).unwrap();
        assert_eq!(s.sample(&[0.0, f32::INFINITY, 1.0]).unwrap(), 1);
        assert_eq!(s.sample(&[f32::NAN, f32::NEG_INFINITY]).unwrap(), 0);
    }

    #[test]
    fn bad_settings_are_errors() {
        for cfg in [
            Sampling {
                temperature: -1.0,
                ..Sampling::default()
            },
            Sampling {
                top_p: 0.0,
                ..Sampling::default()
            },
            Sampling {
                temperature: f32::NAN,
                ..Sampling::default()
            },
        ] {
            assert!(Sampler::new(cfg).is_err());
        }
        let mut s = Sampler::new(Sampling::default()).unwrap();
        assert!(s.sample(&[]).is_err());
    }
}
