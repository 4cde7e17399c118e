//! Tokenizers from GGUF metadata against HuggingFace `tokenizers` (the ids in the fixtures,
//! tests/fixtures/tokenizer/make_fixtures.py): byte-level BPE under the llama 3, qwen2 and
//! GPT-2 pre-tokenizers, on text with contractions in both cases, long numbers, runs of
//! spaces and newlines, tabs, accents, CJK, Cyrillic and emoji.

use kiln::io::{Gguf, Value};
use kiln::llm::Tokenizer;

fn fixture(name: &str) -> Gguf {
    Gguf::open(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tokenizer")
            .join(name),
    )
    .unwrap()
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
