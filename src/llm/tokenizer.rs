//! Tokenizers from a GGUF file's `tokenizer.ggml.*` metadata, as llama.cpp reads them:
//!
//! - `gpt2`: byte-level BPE (llama 3, qwen2, mistral's Tekken). Text is split into
//!   pre-tokens by the pattern `tokenizer.ggml.pre` names ([`PRE_TOKENIZERS`]), each
//!   pre-token's UTF-8 bytes are mapped to printable characters (GPT-2's byte-to-unicode
//!   table), and adjacent symbols are merged by rank (`tokenizer.ggml.merges`).
//! - `llama`: SentencePiece BPE (llama 2, mistral 7B). Spaces become `▁`, one is put in
//!   front, and the adjacent pair whose concatenation is a token of the highest score
//!   (`tokenizer.ggml.scores`) is merged until none is; characters no token covers are
//!   spelled as byte tokens `<0xXX>`.

use super::LlmError;
use crate::io::{Gguf, Value};
use hashbrown::HashMap;

/// How a byte-level BPE vocabulary splits text before merging, by `tokenizer.ggml.pre`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2's pattern: contractions, ` ?letters`, ` ?digits`, ` ?other`, spaces.
    Gpt2,
    /// Llama 3's pattern: case-insensitive contractions, letters with one leading
    /// non-letter, at most `digits` digits at a time, punctuation with trailing newlines,
    /// newlines, spaces.
    Llama3 {
        /// Most digits in one pre-token (3 for llama 3, 1 for qwen2).
        digits: usize,
    },
}

/// `tokenizer.ggml.pre` names, their patterns, and whether a pre-token that is itself a
/// token is taken whole before any merge (llama.cpp's `ignore_merges`, llama 3's), as data.
pub const PRE_TOKENIZERS: [(&str, PreTokenizer, bool); 5] = [
    ("default", PreTokenizer::Gpt2, false),
    ("gpt-2", PreTokenizer::Gpt2, false),
    ("llama-bpe", PreTokenizer::Llama3 { digits: 3 }, true),
    ("llama3", PreTokenizer::Llama3 { digits: 3 }, true),
    ("qwen2", PreTokenizer::Llama3 { digits: 1 }, false),
];

#[derive(Clone, Debug)]
enum Kind {
    Bpe {
        ranks: HashMap<(String, String), usize>,
        pre: PreTokenizer,
        ignore_merges: bool,
        /// Byte to its printable character, and back.
        byte_char: Box<[char; 256]>,
        char_byte: HashMap<char, u8>,
    },
    Spm {
        scores: Vec<f32>,
        /// `<0xXX>` tokens by byte.
        bytes: Vec<Option<u32>>,
    },
}

/// A tokenizer read from a GGUF file.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
    kind: Kind,
    /// The beginning-of-sequence token, where the model has one.
    pub bos: Option<u32>,
    /// The end-of-sequence token, where the model has one.
    pub eos: Option<u32>,
    /// Whether [`Tokenizer::encode`] starts with `bos`.
    pub add_bos: bool,
}

fn strings(g: &Gguf, key: &str) -> Result<Vec<String>, LlmError> {
    match g.get(key) {
        Some(Value::Array(v)) => v
            .iter()
            .map(|x| x.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| LlmError::Tokenizer(format!("{key}: not an array of strings"))),
        _ => Err(LlmError::Tokenizer(format!("{key}: missing"))),
    }
}

/// GPT-2's byte-to-unicode table: printable Latin-1 bytes stand for themselves, the others
/// for the code points from 256 on, in byte order.
pub(crate) fn byte_chars() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xa1..=0xac | 0xae..=0xff);
        table[b as usize] = if printable {
            b as char
        } else {
            let c = char::from_u32(next).unwrap_or('\u{fffd}');
            next += 1;
            c
        };
    }
    table
}

impl Tokenizer {
    /// The tokenizer in `g`'s metadata.
    pub fn from_gguf(g: &Gguf) -> Result<Tokenizer, LlmError> {
        let tokens = strings(g, "tokenizer.ggml.tokens")?;
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let model = g
            .get("tokenizer.ggml.model")
            .and_then(Value::as_str)
            .ok_or_else(|| LlmError::Tokenizer("tokenizer.ggml.model: missing".into()))?;
        let id = |key: &str| {
            g.get(key)
                .and_then(Value::as_u64)
                .filter(|&v| v < tokens.len() as u64)
                .map(|v| v as u32)
        };
        let kind = match model {
            "gpt2" => {
                let pre_name = g
                    .get("tokenizer.ggml.pre")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                let (pre, ignore_merges) = PRE_TOKENIZERS
                    .iter()
                    .find(|(n, _, _)| *n == pre_name)
                    .map(|&(_, p, i)| (p, i))
                    .ok_or_else(|| {
                        LlmError::Tokenizer(format!("pre-tokenizer {pre_name:?} is not supported"))
                    })?;
                let mut ranks = HashMap::new();
                for (r, m) in strings(g, "tokenizer.ggml.merges")?.iter().enumerate() {
                    let (a, b) = m
                        .split_once(' ')
                        .ok_or_else(|| LlmError::Tokenizer(format!("merge {m:?}: no space")))?;
                    ranks.insert((a.to_string(), b.to_string()), r);
                }
                let byte_char = Box::new(byte_chars());
                let char_byte = byte_char
                    .iter()
                    .enumerate()
                    .map(|(b, &c)| (c, b as u8))
                    .collect();
                Kind::Bpe {
                    ranks,
                    pre,
                    ignore_merges,
                    byte_char,
                    char_byte,
                }
            }
            "llama" => {
                let scores = match g.get("tokenizer.ggml.scores") {
                    Some(Value::Array(v)) => v
                        .iter()
                        .map(|x| x.as_f64().map(|f| f as f32))
                        .collect::<Option<Vec<_>>>(),
                    _ => None,
                }
                .filter(|s| s.len() == tokens.len())
                .ok_or_else(|| {
                    LlmError::Tokenizer("tokenizer.ggml.scores: one float per token needed".into())
                })?;
                let bytes = (0..256)
                    .map(|b| {
                        tokens
                            .iter()
                            .position(|t| *t == format!("<0x{b:02X}>"))
                            .map(|i| i as u32)
                    })
                    .collect();
                Kind::Spm { scores, bytes }
            }
            m => return Err(LlmError::Tokenizer(format!("model {m:?} is not supported"))),
        };
        let bos = id("tokenizer.ggml.bos_token_id");
        let add_bos = match g.get("tokenizer.ggml.add_bos_token") {
            Some(Value::Bool(b)) => *b,
            _ => matches!(kind, Kind::Spm { .. }),
        };
        Ok(Tokenizer {
            bos,
            eos: id("tokenizer.ggml.eos_token_id"),
            add_bos: add_bos && bos.is_some(),
            tokens,
            ids,
            kind,
        })
    }

    /// The vocabulary size.
    pub fn vocab(&self) -> usize {
        self.tokens.len()
    }

    /// The token ids of `text` (after `bos` where [`Tokenizer::add_bos`]).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        let mut out: Vec<u32> = self.bos.filter(|_| self.add_bos).into_iter().collect();
        match &self.kind {
            Kind::Bpe {
                ranks,
                pre,
                ignore_merges,
                byte_char,
                ..
            } => {
                for piece in pre_tokens(text, *pre) {
                    let symbols: Vec<String> = piece
                        .bytes()
                        .map(|b| byte_char[b as usize].to_string())
                        .collect();
                    if *ignore_merges {
                        if let Some(&id) = self.ids.get(&symbols.concat()) {
                            out.push(id);
                            continue;
                        }
                    }
                    for s in merge_by_rank(symbols, ranks) {
                        let id = self
                            .ids
                            .get(&s)
                            .ok_or_else(|| LlmError::Tokenizer(format!("{s:?} is in no token")))?;
                        out.push(*id);
                    }
                }
            }
            Kind::Spm { scores, bytes } => {
                let text = format!(" {text}").replace(' ', "\u{2581}");
                let symbols: Vec<String> = text.chars().map(|c| c.to_string()).collect();
                for s in self.merge_by_score(symbols, scores) {
                    match self.ids.get(&s) {
                        Some(&id) => out.push(id),
                        None => {
                            for b in s.bytes() {
                                out.push(bytes[b as usize].ok_or_else(|| {
                                    LlmError::Tokenizer(format!("no byte token for {b:#04x}"))
                                })?);
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The text of token `id` as bytes (byte tokens as their byte); empty for an id outside
    /// the vocabulary.
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        let Some(t) = self.tokens.get(id as usize) else {
            return Vec::new();
        };
        match &self.kind {
            Kind::Bpe { char_byte, .. } => t
                .chars()
                .flat_map(|c| match char_byte.get(&c) {
                    Some(&b) => vec![b],
                    // Added tokens outside the byte table are their own text.
                    None => c.to_string().into_bytes(),
                })
                .collect(),
            Kind::Spm { .. } => {
                if t.len() == 6 && t.starts_with("<0x") && t.ends_with('>') {
                    if let Ok(b) = u8::from_str_radix(&t[3..5], 16) {
                        return vec![b];
                    }
                }
                t.replace('\u{2581}', " ").into_bytes()
            }
        }
    }

    /// The text of a sequence of tokens (invalid UTF-8 replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&i| self.token_bytes(i)).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// SentencePiece's merge: the adjacent pair that makes the best-scoring token, leftmost
    /// on a tie, until no pair makes a token.
    fn merge_by_score(&self, mut s: Vec<String>, scores: &[f32]) -> Vec<String> {
        loop {
            let mut best: Option<(usize, f32)> = None;
            for i in 0..s.len().saturating_sub(1) {
                let joined = format!("{}{}", s[i], s[i + 1]);
                if let Some(&id) = self.ids.get(&joined) {
                    let sc = scores[id as usize];
                    if best.is_none_or(|(_, b)| sc > b) {
                        best = Some((i, sc));
                    }
                }
            }
            let Some((i, _)) = best else { return s };
            let right = s.remove(i + 1);
            s[i].push_str(&right);
        }
    }
}

/// Byte-level BPE's merge: the adjacent pair of lowest rank, every occurrence left to right,
/// until no pair has a rank.
fn merge_by_rank(mut s: Vec<String>, ranks: &HashMap<(String, String), usize>) -> Vec<String> {
    loop {
        let best = (0..s.len().saturating_sub(1))
            .filter_map(|i| {
                ranks
                    .get(&(s[i].clone(), s[i + 1].clone()))
                    .map(|&r| (r, i))
            })
            .min();
        let Some((_, i)) = best else { return s };
        let (a, b) = (s[i].clone(), s[i + 1].clone());
        let mut out = Vec::with_capacity(s.len());
        let mut j = 0;
        while j < s.len() {
            if j + 1 < s.len() && s[j] == a && s[j + 1] == b {
                out.push(format!("{a}{b}"));
                j += 2;
            } else {
                out.push(std::mem::take(&mut s[j]));
                j += 1;
            }
        }
        s = out;
    }
}

/// `\p{L}`, approximated: alphabetic and not a number (letter numbers such as `Ⅻ` are
/// `\p{N}`). Combining marks that Unicode counts as alphabetic (some vowel signs) are
/// letters here but not in the pattern; texts in those scripts may split differently from
/// llama.cpp's.
fn is_letter(c: char) -> bool {
    c.is_alphabetic() && !c.is_numeric()
}

fn is_number(c: char) -> bool {
    c.is_numeric()
}

fn is_newline(c: char) -> bool {
    c == '\r' || c == '\n'
}

/// Splits `text` as the pre-tokenizer's pattern does: at each position the first
/// alternative that matches, taken as far as it goes.
pub fn pre_tokens(text: &str, pre: PreTokenizer) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let n = match pre {
            PreTokenizer::Llama3 { digits } => llama3_match(&at, i, digits),
            PreTokenizer::Gpt2 => gpt2_match(&at, i),
        }
        .max(1);
        let start = chars[i].0;
        let end = chars.get(i + n).map_or(text.len(), |&(b, _)| b);
        out.push(&text[start..end]);
        i += n;
    }
    out
}

/// The length of `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll` or `'d` at `i` (any case where
/// `fold`), or 0.
fn contraction(at: &dyn Fn(usize) -> Option<char>, i: usize, fold: bool) -> usize {
    if at(i) != Some('\'') {
        return 0;
    }
    let lower = |k: usize| at(i + k).map(|c| if fold { c.to_ascii_lowercase() } else { c });
    for s in ["s", "t", "re", "ve", "m", "ll", "d"] {
        if s.chars().enumerate().all(|(k, c)| lower(k + 1) == Some(c)) {
            return 1 + s.len();
        }
    }
    0
}

fn run(at: &dyn Fn(usize) -> Option<char>, i: usize, p: impl Fn(char) -> bool) -> usize {
    let mut n = 0;
    while at(i + n).is_some_and(&p) {
        n += 1;
    }
    n
}

/// Whitespace at `i`: `\s*[\r\n]+` first where `newlines`, then `\s+(?!\S)`, then `\s+`.
fn spaces(at: &dyn Fn(usize) -> Option<char>, i: usize, newlines: bool) -> usize {
    let n = run(at, i, char::is_whitespace);
    if n == 0 {
        return 0;
    }
    if newlines {
        if let Some(last) = (0..n).rev().find(|&k| at(i + k).is_some_and(is_newline)) {
            return last + 1;
        }
    }
    if at(i + n).is_none() || n == 1 {
        n
    } else {
        n - 1
    }
}

fn llama3_match(at: &dyn Fn(usize) -> Option<char>, i: usize, digits: usize) -> usize {
    let Some(c) = at(i) else { return 0 };
    let n = contraction(at, i, true);
    if n > 0 {
        return n;
    }
    if is_letter(c) {
        return run(at, i, is_letter);
    }
    if !is_newline(c) && !is_number(c) && at(i + 1).is_some_and(is_letter) {
        return 1 + run(at, i + 1, is_letter);
    }
    if is_number(c) {
        return run(at, i, is_number).min(digits);
    }
    let other = |c: char| !c.is_whitespace() && !is_letter(c) && !is_number(c);
    let lead = usize::from(c == ' ' && at(i + 1).is_some_and(other));
    let n = run(at, i + lead, other);
    if n > 0 {
        return lead + n + run(at, i + lead + n, is_newline);
    }
    spaces(at, i, true)
}

fn gpt2_match(at: &dyn Fn(usize) -> Option<char>, i: usize) -> usize {
    let Some(c) = at(i) else { return 0 };
    let n = contraction(at, i, false);
    if n > 0 {
        return n;
    }
    let lead = usize::from(c == ' ');
    let other = |c: char| !c.is_whitespace() && !is_letter(c) && !is_number(c);
    for class in [is_letter as fn(char) -> bool, is_number, other] {
        let n = run(at, i + lead, class);
        if n > 0 {
            return lead + n;
        }
    }
    spaces(at, i, false)
}
