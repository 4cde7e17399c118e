//! What a tuning result stores: the fields of its kernel's class that the candidate space
//! varies ([`TunedFields`]), under a key of the kernel's structure and size class
//! ([`tune_key`]), and their text form on disk ([`parse`], [`format()`]).
//!
//! One result a line: the key, a tab, then `name=value` fields separated by spaces, named as
//! the schedule's fields are (`reduce.workgroup=64 reduce.unroll=4 reduce.cache=16 reduce.serial=0`); an
//! optional field with no value is written `none`. A line that does not name exactly the
//! fields of one class, each once with a value of its type, is malformed. The runtime keeps
//! these lines in a file named with a version (`autotune.v12`), so that files of another
//! format, or chosen among other templates, are never read.

use super::Schedule;
use kiln_ir::{Kernel, KernelKind};
use std::collections::BTreeMap;
use std::fmt;

/// The fields of a kernel class's schedule that tuning chooses; every other field comes from
/// the device schedule resolved for the kernel ([`TunedFields::apply`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunedFields {
    /// An elementwise kernel's.
    Elementwise {
        /// `elementwise.workgroup`.
        workgroup: u32,
        /// `elementwise.unroll`.
        unroll: u32,
    },
    /// A reduce kernel's.
    Reduce {
        /// `reduce.workgroup`.
        workgroup: u32,
        /// `reduce.unroll`.
        unroll: u32,
        /// `reduce.cache`.
        cache: u32,
        /// `reduce.serial`.
        serial: u32,
    },
    /// A matmul kernel's.
    Matmul {
        /// `matmul.block`.
        block: Option<u32>,
        /// `matmul.unroll`.
        unroll: u32,
        /// `matmul.block_n`.
        block_n: Option<u32>,
        /// `matmul.tensor_cores`.
        tensor_cores: bool,
        /// `matmul.coop_tile`.
        coop_tile: Option<u32>,
        /// `matmul.qgemv_rows`.
        qgemv_rows: Option<u32>,
        /// `matmul.qgemv_items`.
        qgemv_items: u32,
        /// `matmul.qgemv_workgroups`.
        qgemv_workgroups: u32,
    },
    /// An attention kernel's.
    Attention {
        /// `attention.rows`.
        rows: Option<u32>,
        /// `attention.keys`.
        keys: Option<u32>,
        /// `attention.tensor_cores`.
        tensor_cores: bool,
    },
}

impl TunedFields {
    /// The fields of `s` that `k`'s class tunes.
    pub fn of(k: &Kernel, s: &Schedule) -> TunedFields {
        match &k.kind {
            KernelKind::Elementwise => TunedFields::Elementwise {
                workgroup: s.elementwise.workgroup,
                unroll: s.elementwise.unroll,
            },
            KernelKind::Reduce { .. } | KernelKind::Scan { .. } => TunedFields::Reduce {
                workgroup: s.reduce.workgroup,
                unroll: s.reduce.unroll,
                cache: s.reduce.cache,
                serial: s.reduce.serial,
            },
            KernelKind::Matmul { .. } => TunedFields::Matmul {
                block: s.matmul.block,
                unroll: s.matmul.unroll,
                block_n: s.matmul.block_n,
                tensor_cores: s.matmul.tensor_cores,
                coop_tile: s.matmul.coop_tile,
                qgemv_rows: s.matmul.qgemv_rows,
                qgemv_items: s.matmul.qgemv_items,
                qgemv_workgroups: s.matmul.qgemv_workgroups,
            },
            KernelKind::Attention { .. } => TunedFields::Attention {
                rows: s.attention.rows,
                keys: s.attention.keys,
                tensor_cores: s.attention.tensor_cores,
            },
        }
    }

    /// `base` resolved for `k`, with these fields written over it; `None` where they are
    /// another class's (a damaged or foreign result). The outcome may still be invalid:
    /// check it with [`super::limits::valid`].
    pub fn apply(&self, k: &Kernel, base: &Schedule) -> Option<Schedule> {
        let mut s = base.resolve(k);
        match (*self, &k.kind) {
            (TunedFields::Elementwise { workgroup, unroll }, KernelKind::Elementwise) => {
                s.elementwise.workgroup = workgroup;
                s.elementwise.unroll = unroll;
            }
            (
                TunedFields::Reduce {
                    workgroup,
                    unroll,
                    cache,
                    serial,
                },
                KernelKind::Reduce { .. } | KernelKind::Scan { .. },
            ) => {
                s.reduce.workgroup = workgroup;
                s.reduce.unroll = unroll;
                s.reduce.cache = cache;
                s.reduce.serial = serial;
            }
            (
                TunedFields::Matmul {
                    block,
                    unroll,
                    block_n,
                    tensor_cores,
                    coop_tile,
                    qgemv_rows,
                    qgemv_items,
                    qgemv_workgroups,
                },
                KernelKind::Matmul { .. },
            ) => {
                s.matmul.block = block;
                s.matmul.unroll = unroll;
                s.matmul.block_n = block_n;
                s.matmul.qgemv_rows = qgemv_rows;
                s.matmul.qgemv_items = qgemv_items;
                s.matmul.qgemv_workgroups = qgemv_workgroups;
                s.matmul.settle_block_one(k);
                // Tensor cores only where the device schedule allows them (a stored result
                // from elsewhere cannot turn them on).
                s.matmul.tensor_cores = tensor_cores && s.matmul.tensor_cores;
                s.matmul.coop_tile = coop_tile.filter(|_| s.matmul.tensor_cores);
            }
            (
                TunedFields::Attention {
                    rows,
                    keys,
                    tensor_cores,
                },
                KernelKind::Attention { .. },
            ) => {
                s.attention.rows = rows;
                s.attention.keys = keys;
                // As for matmuls: a stored result cannot turn tensor cores on, and one that
                // chose the scalar form keeps it.
                s.attention.tensor_cores = tensor_cores && s.attention.tensor_cores;
                crate::attention::settle_segments(&mut s.attention);
            }
            (TunedFields::Elementwise { .. }, _)
            | (TunedFields::Reduce { .. }, _)
            | (TunedFields::Matmul { .. }, _)
            | (TunedFields::Attention { .. }, _) => return None,
        }
        Some(s)
    }
}

/// An optional value as stored: the number, or `none`.
struct Opt(Option<u32>);

impl fmt::Display for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("none"),
        }
    }
}

impl fmt::Display for TunedFields {
    /// The stored form: `name=value` fields separated by spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TunedFields::Elementwise { workgroup, unroll } => write!(
                f,
                "elementwise.workgroup={workgroup} elementwise.unroll={unroll}"
            ),
            TunedFields::Reduce {
                workgroup,
                unroll,
                cache,
                serial,
            } => write!(
                f,
                "reduce.workgroup={workgroup} reduce.unroll={unroll} reduce.cache={cache} reduce.serial={serial}"
            ),
            TunedFields::Matmul {
                block,
                unroll,
                block_n,
                tensor_cores,
                coop_tile,
                qgemv_rows,
                qgemv_items,
                qgemv_workgroups,
            } => write!(
                f,
                "matmul.block={} matmul.unroll={unroll} matmul.block_n={} \
                 matmul.tensor_cores={} matmul.coop_tile={} matmul.qgemv_rows={} \
                 matmul.qgemv_items={qgemv_items} matmul.qgemv_workgroups={qgemv_workgroups}",
                Opt(block),
                Opt(block_n),
                u32::from(tensor_cores),
                Opt(coop_tile),
                Opt(qgemv_rows)
            ),
            TunedFields::Attention {
                rows,
                keys,
                tensor_cores,
            } => write!(
                f,
                "attention.rows={} attention.keys={} attention.tensor_cores={}",
                Opt(rows),
                Opt(keys),
                u32::from(tensor_cores)
            ),
        }
    }
}

impl std::str::FromStr for TunedFields {
    type Err = String;

    /// Parses the stored form: exactly the fields of one class, each once, in any order.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for part in text.split(' ').filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not name=value"))?;
            if fields.insert(name, value).is_some() {
                return Err(format!("{name} given twice"));
            }
        }
        let num = |name: &str| -> Result<u32, String> {
            let v = fields.get(name).ok_or_else(|| format!("{name} missing"))?;
            v.parse().map_err(|_| format!("{name}={v} is not a number"))
        };
        let opt = |name: &str| -> Result<Option<u32>, String> {
            match fields.get(name) {
                Some(&"none") => Ok(None),
                Some(_) => num(name).map(Some),
                None => Err(format!("{name} missing")),
            }
        };
        let flag = |name: &str| -> Result<bool, String> {
            match num(name)? {
                0 => Ok(false),
                1 => Ok(true),
                v => Err(format!("{name}={v} is not 0 or 1")),
            }
        };
        let class = fields
            .keys()
            .next()
            .and_then(|n| n.split_once('.'))
            .map(|(c, _)| c)
            .ok_or("no fields")?;
        let (parsed, count) = match class {
            "elementwise" => (
                TunedFields::Elementwise {
                    workgroup: num("elementwise.workgroup")?,
                    unroll: num("elementwise.unroll")?,
                },
                2,
            ),
            "reduce" => (
                TunedFields::Reduce {
                    workgroup: num("reduce.workgroup")?,
                    unroll: num("reduce.unroll")?,
                    cache: num("reduce.cache")?,
                    serial: num("reduce.serial")?,
                },
                4,
            ),
            "matmul" => (
                TunedFields::Matmul {
                    block: opt("matmul.block")?,
                    unroll: num("matmul.unroll")?,
                    block_n: opt("matmul.block_n")?,
                    tensor_cores: flag("matmul.tensor_cores")?,
                    coop_tile: opt("matmul.coop_tile")?,
                    qgemv_rows: opt("matmul.qgemv_rows")?,
                    qgemv_items: num("matmul.qgemv_items")?,
                    qgemv_workgroups: num("matmul.qgemv_workgroups")?,
                },
                8,
            ),
            "attention" => (
                TunedFields::Attention {
                    rows: opt("attention.rows")?,
                    keys: opt("attention.keys")?,
                    tensor_cores: flag("attention.tensor_cores")?,
                },
                3,
            ),
            other => return Err(format!("unknown kernel class {other:?}")),
        };
        if fields.len() != count {
            return Err(format!("fields other than the {class} class's"));
        }
        Ok(parsed)
    }
}

/// The key of a tuning result for kernel `k` under device schedule `s`. Grammar
/// (docs/CACHE_KEYS.md): `kernel-key "|" dim { "x" dim } [ "|k" k ] [ "|" path ]`, every size
/// rounded up to a power of two; `k` is a matmul's inner size or an attention's keys; `path`
/// names the quantized gemv path a product takes under `s` (`qgemv` with the `f32` vector,
/// `qgemv8` with the 8-bit one, `qgemv8w` and its warps a workgroup in
/// [`crate::qgemv_warp`]'s kernel), whose tuned fields (rows a group, items a trip, the
/// 8-bit path's workgroups) mean other layouts on each and nothing off it.
pub fn tune_key(k: &Kernel, s: &Schedule) -> String {
    let p2 = |n: usize| n.max(1).next_power_of_two();
    let dims: Vec<String> = k.shape.0.iter().map(|&d| p2(d).to_string()).collect();
    let mut key = format!("{}|{}", k.key(), dims.join("x"));
    let inner = k
        .matmul_k()
        .or_else(|| crate::attention::sizes(k).map(|(_, _, sk, _)| sk));
    if let Some(kk) = inner {
        key.push_str(&format!("|k{}", p2(kk)));
    }
    if s.matmul.quantized_gemv && crate::qgemv::applies(k) {
        let warps = crate::qgemv_warp::warps_for(k, &s.matmul);
        key.push_str(&match s.matmul.qgemv_int8 {
            true if warps > 0 && s.matmul.gemv_subgroups => format!("|qgemv8w{warps}"),
            true => "|qgemv8".into(),
            false => "|qgemv".into(),
        });
    }
    key
}

/// Tuning results by key.
pub type TunedTable = BTreeMap<String, TunedFields>;

/// The results in a stored text, and the malformed lines (skipped), each with what is wrong
/// with it.
pub fn parse(text: &str) -> (TunedTable, Vec<String>) {
    let mut table = TunedTable::new();
    let mut malformed = Vec::new();
    for line in text.lines() {
        let parsed = line
            .split_once('\t')
            .ok_or_else(|| "no tab after the key".to_string())
            .and_then(|(key, fields)| Ok((key, fields.parse::<TunedFields>()?)));
        match parsed {
            Ok((key, fields)) => {
                table.insert(key.to_string(), fields);
            }
            Err(why) => malformed.push(format!("{line:?}: {why}")),
        }
    }
    (table, malformed)
}

/// The stored text of `table`: one line a result, sorted by key.
pub fn format(table: &TunedTable) -> String {
    table
        .iter()
        .map(|(key, fields)| format!("{key}\t{fields}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let mut t = TunedTable::new();
        t.insert(
            "ew;v1|1024".into(),
            TunedFields::Elementwise {
                workgroup: 128,
                unroll: 2,
            },
        );
        t.insert(
            "red.1|8x1024".into(),
            TunedFields::Reduce {
                workgroup: 64,
                unroll: 4,
                cache: 0,
                serial: 0,
            },
        );
        t.insert(
            "mm|128x128|k64".into(),
            TunedFields::Matmul {
                block: Some(8),
                unroll: 8,
                block_n: None,
                tensor_cores: true,
                coop_tile: Some(1),
                qgemv_rows: None,
                qgemv_items: 1,
                qgemv_workgroups: 264,
            },
        );
        t.insert(
            "att|2x64x64".into(),
            TunedFields::Attention {
                rows: Some(16),
                keys: None,
                tensor_cores: false,
            },
        );
        let text = format(&t);
        assert!(text.contains(
            "mm|128x128|k64\tmatmul.block=8 matmul.unroll=8 matmul.block_n=none \
             matmul.tensor_cores=1 matmul.coop_tile=1 matmul.qgemv_rows=none \
             matmul.qgemv_items=1 matmul.qgemv_workgroups=264\n"
        ));
        assert!(text.contains(
            "att|2x64x64\tattention.rows=16 attention.keys=none attention.tensor_cores=0\n"
        ));
        assert_eq!(parse(&text), (t, vec![]));
    }

    /// Old positional lines, unknown or missing or repeated fields, fields of two classes and
    /// bad numbers are malformed; the good lines around them are kept.
    #[test]
    fn malformed_lines_are_skipped() {
        let good = "k\treduce.cache=16 reduce.workgroup=32 reduce.unroll=2 reduce.serial=0";
        for bad in [
            "k\t4\t8\t0",
            "k reduce.workgroup=32 reduce.unroll=2 reduce.cache=16 reduce.serial=0",
            "k\treduce.workgroup=32 reduce.unroll=2 reduce.serial=0",
            "k\treduce.workgroup=32 reduce.unroll=2 reduce.cache=16 reduce.serial=0 reduce.extra=1",
            "k\treduce.workgroup=32 reduce.workgroup=32 reduce.unroll=2 reduce.cache=16 reduce.serial=0",
            // A line of version 10, without `reduce.serial`.
            "k\treduce.workgroup=32 reduce.unroll=2 reduce.cache=16",
            "k\telementwise.workgroup=32 elementwise.unroll=2 matmul.unroll=2",
            "k\tmatmul.block=x matmul.unroll=2 matmul.block_n=none",
            "k\tmatmul.block=8 matmul.unroll=none matmul.block_n=none",
            "k\tmatmul.block=8 matmul.unroll=2 matmul.block_n=none matmul.tensor_cores=2 matmul.coop_tile=none",
            // A line of the version before, without the quantized path's fields.
            "k\tmatmul.block=1 matmul.unroll=8 matmul.block_n=none matmul.tensor_cores=0 matmul.coop_tile=none",
            // A line of version 9, without the workgroups of the 8-bit vector's path.
            "k\tmatmul.block=1 matmul.unroll=8 matmul.block_n=none matmul.tensor_cores=0 matmul.coop_tile=none matmul.qgemv_rows=2 matmul.qgemv_items=2",
            "k\tattention.rows=16",
            "k\tconv.block=8",
            "k\t",
        ] {
            let (t, malformed) = parse(&format!("{bad}\n{good}\n"));
            assert_eq!(malformed.len(), 1, "{bad:?} was accepted");
            assert_eq!(t.len(), 1, "{bad:?}");
            assert_eq!(
                t["k"],
                TunedFields::Reduce {
                    workgroup: 32,
                    unroll: 2,
                    cache: 16,
                    serial: 0,
                }
            );
        }
    }
}
