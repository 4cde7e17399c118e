//! Tokenizers from GGUF metadata against HuggingFace `tokenizers` (the ids in the fixtures,
//! tests/fixtures/tokenizer/make_fixtures.py): byte-level BPE under the llama 3, qwen2 and
//! GPT-2 pre-tokenizers, on text with contractions in both cases, long numbers, runs of
//! spaces and newlines, tabs, accents, CJK, Cyrillic and emoji.

mod common;
use common::{fixture as fixture_path, scratch_dir};
use kiln::io::{Gguf, Value};
use kiln::llm::Tokenizer;

fn fixture(name: &str) -> Gguf {
    Gguf::open(fixture_path("tokenizer", name)).unwrap()
}

#[test]
fn byte_level_bpe_matches_huggingface() {
    for name in ["bpe_llama3.gguf", "bpe_qwen2.gguf", "bpe_gpt2.gguf"] {
        let g = fixture(name);
        let tok = Tokenizer::from_gguf(&g).unwrap();
        assert_eq!(tok.vocab(), 400);
        let Some(Value::Array(texts)) = g.get("test.texts") else {
            panic!("{name}: no texts")
        };
        let mut merged = 0;
        for (i, t) in texts.iter().enumerate() {
            let text = t.as_str().unwrap();
            let want: Vec<u32> = match g.get(&format!("test.ids.{i}")) {
                Some(Value::Array(v)) => v.iter().map(|x| x.as_u64().unwrap() as u32).collect(),
                // gguf-py skips an empty array (the empty text's ids).
                None => Vec::new(),
                v => panic!("{name}: ids {i}: {v:?}"),
            };
            let got = tok.encode(text).unwrap();
            assert_eq!(got, want, "{name}: {text:?}");
            assert_eq!(tok.decode(&got), text, "{name}: round trip of {text:?}");
            merged += got.iter().filter(|&&id| id >= 256).count();
        }
        assert!(merged > 10, "{name}: the merges were exercised");
    }
}

/// SentencePiece BPE (`tokenizer.ggml.model = "llama"`) on a vocabulary written here: spaces
/// become `▁` with one in front, the best-scoring pair merges first (leftmost on a tie), and
/// characters no token covers are spelled in byte tokens.
#[test]
fn sentencepiece_merges_by_score_with_byte_fallback() {
    use kiln::io::GgufWriter;
    let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    tokens.extend((0..256).map(|b| format!("<0x{b:02X}>")));
    let pieces = [
        ("\u{2581}", -1.0),
        ("h", -2.0),
        ("e", -2.0),
        ("l", -2.0),
        ("o", -2.0),
        ("w", -2.0),
        ("r", -2.0),
        ("d", -2.0),
        ("ll", -3.0),
        ("\u{2581}h", -4.0),
        ("\u{2581}he", -5.0),
        ("llo", -6.0),
        ("\u{2581}hello", -7.0),
        ("or", -8.0),
        ("\u{2581}w", -9.0),
    ];
    let first_piece = tokens.len() as u32;
    let mut scores: Vec<f32> = vec![0.0; tokens.len()];
    for (p, s) in pieces {
        tokens.push(p.to_string());
        scores.push(s);
    }
    let id = |p: &str| first_piece + pieces.iter().position(|(q, _)| *q == p).unwrap() as u32;
    let dir = scratch_dir("spm");
    let path = dir.join("spm.gguf");
    let mut w = GgufWriter::new();
    w.meta("tokenizer.ggml.model", Value::String("llama".into()))
        .meta(
            "tokenizer.ggml.tokens",
            Value::Array(tokens.iter().cloned().map(Value::String).collect()),
        )
        .meta(
            "tokenizer.ggml.scores",
            Value::Array(scores.iter().map(|&s| Value::F32(s)).collect()),
        )
        .meta("tokenizer.ggml.bos_token_id", Value::U32(1))
        .meta("tokenizer.ggml.eos_token_id", Value::U32(2));
    w.write(&path).unwrap();
    let tok = Tokenizer::from_gguf(&Gguf::open(&path).unwrap()).unwrap();
    assert!(
        tok.add_bos,
        "SentencePiece vocabularies start with <s> by default"
    );
    // "▁hello": ll (-3) first, then ▁h (-4), ▁he (-5), llo (-6), ▁hello (-7).
    assert_eq!(tok.encode("hello").unwrap(), vec![1, id("\u{2581}hello")]);
    // "▁world": ▁w (-9) merges only after or (-8); no token covers "▁wor".
    assert_eq!(
        tok.encode("world").unwrap(),
        vec![1, id("\u{2581}w"), id("or"), id("l"), id("d")]
    );
    // "é" is in no token: its two UTF-8 bytes.
    let got = tok.encode("hé").unwrap();
    assert_eq!(got, vec![1, id("\u{2581}h"), 3 + 0xC3, 3 + 0xA9], "{got:?}");
    assert_eq!(tok.decode(&got[1..]), " hé");
    std::fs::remove_dir_all(&dir).unwrap();
}
