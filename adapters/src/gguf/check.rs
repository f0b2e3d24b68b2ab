//! Reads a GGUF header and checks it against the file's length, without trusting any count.

use super::{ggml_block_layout, value_type as vt, DEFAULT_ALIGNMENT, MAGIC};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// Upper bounds far above any real model, so a corrupt count fails fast instead of allocating.
const MAX_TENSORS: u64 = 1 << 20;
const MAX_KV: u64 = 1 << 20;
const MAX_DIMS: u32 = 4;

/// What a valid header declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufSummary {
    /// Format version (2 or 3).
    pub version: u32,
    /// Number of tensors.
    pub tensor_count: u64,
    /// Number of metadata entries.
    pub kv_count: u64,
    /// `general.architecture`, when present.
    pub architecture: Option<String>,
    /// Whether `tokenizer.chat_template` is present.
    pub has_chat_template: bool,
    /// File offset where tensor data starts.
    pub data_offset: u64,
    /// The file length the tensor infos require.
    pub required_len: u64,
    /// The file's actual length.
    pub file_len: u64,
}

/// Why a file is not a usable GGUF model.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file ended inside the header or before the tensor data it declares.
    #[error("{path} is truncated: {detail}")]
    Truncated {
        /// The file.
        path: String,
        /// Where it ended and what was expected.
        detail: String,
    },
    /// The header is not a GGUF header this build can read.
    #[error("{path} is not a valid GGUF model: {detail}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

/// Checks magic, version, counts, every metadata entry and tensor info, and that the file is at
/// least as long as the tensor data it declares.
pub fn check_file(path: &Path) -> Result<GgufSummary, GgufError> {
    let shown = path.display().to_string();
    let io = |source| GgufError::Io {
        path: shown.clone(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut r = Cursor {
        inner: BufReader::with_capacity(1 << 16, file),
        pos: 0,
        len: file_len,
        path: shown.clone(),
    };

    let magic = r.bytes_fixed::<4>("magic")?;
    if magic != MAGIC {
        return Err(r.invalid(format!(
            "bad magic {:?} (expected \"GGUF\")",
            String::from_utf8_lossy(&magic)
        )));
    }
    let version = r.u32("version")?;
    if !(2..=3).contains(&version) {
        return Err(r.invalid(format!(
            "unsupported GGUF version {version} (2 or 3 expected)"
        )));
    }
    let tensor_count = r.u64("tensor count")?;
    let kv_count = r.u64("metadata count")?;
    if tensor_count > MAX_TENSORS {
        return Err(r.invalid(format!("implausible tensor count {tensor_count}")));
    }
    if kv_count > MAX_KV {
        return Err(r.invalid(format!("implausible metadata count {kv_count}")));
    }

    let mut alignment = DEFAULT_ALIGNMENT;
    let mut architecture = None;
    let mut has_chat_template = false;
    for _ in 0..kv_count {
        let key = r.string("metadata key")?;
        let ty = r.u32("metadata value type")?;
        match (key.as_str(), ty) {
            ("general.alignment", vt::U32) => {
                let a = u64::from(r.u32("general.alignment")?);
                if a == 0 || !a.is_power_of_two() {
                    return Err(r.invalid(format!("general.alignment {a} is not a power of two")));
                }
                alignment = a;
            }
            ("general.architecture", vt::STRING) => {
                architecture = Some(r.string("general.architecture")?);
            }
            ("tokenizer.chat_template", vt::STRING) => {
                r.skip_string("tokenizer.chat_template")?;
                has_chat_template = true;
            }
            _ => r.skip_value(ty, &key, 0)?,
        }
    }

    let mut required = 0u64;
    for i in 0..tensor_count {
        let name = r.string("tensor name")?;
        let n_dims = r.u32("tensor dimension count")?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(r.invalid(format!("tensor {name:?} has {n_dims} dimensions")));
        }
        let mut elements = 1u64;
        let mut ne0 = 0;
        for d in 0..n_dims {
            let dim = r.u64("tensor dimension")?;
            if dim == 0 || dim > (1 << 40) {
                return Err(r.invalid(format!("tensor {name:?} has dimension {dim}")));
            }
            if d == 0 {
                ne0 = dim;
            }
            elements = elements
                .checked_mul(dim)
                .ok_or_else(|| r.invalid(format!("tensor {name:?} is too large")))?;
        }
        let ty = r.u32("tensor type")?;
        let (block, block_bytes) = ggml_block_layout(ty)
            .ok_or_else(|| r.invalid(format!("tensor {name:?} has unknown type id {ty}")))?;
        if !ne0.is_multiple_of(block) {
            return Err(r.invalid(format!(
                "tensor {name:?}: row length {ne0} is not a multiple of its block size {block}"
            )));
        }
        let offset = r.u64("tensor offset")?;
        if !offset.is_multiple_of(alignment) {
            return Err(r.invalid(format!(
                "tensor {name:?} (#{i}) offset {offset} is not aligned to {alignment}"
            )));
        }
        let bytes = elements / block * block_bytes;
        let end = offset
            .checked_add(bytes)
            .ok_or_else(|| r.invalid(format!("tensor {name:?} offset overflows")))?;
        required = required.max(end);
    }

    let data_offset = r.pos.div_ceil(alignment) * alignment;
    let required_len = data_offset.saturating_add(required);
    if required_len > file_len {
        return Err(GgufError::Truncated {
            path: shown,
            detail: format!(
                "its tensors need {required_len} bytes but the file has {file_len} \
                 ({} missing)",
                required_len - file_len
            ),
        });
    }
    Ok(GgufSummary {
        version,
        tensor_count,
        kv_count,
        architecture,
        has_chat_template,
        data_offset,
        required_len,
        file_len,
    })
}

/// A reader that knows the file length, so no declared size is believed before it is checked.
struct Cursor {
    inner: BufReader<File>,
    pos: u64,
    len: u64,
    path: String,
}

impl Cursor {
    fn invalid(&self, detail: String) -> GgufError {
        GgufError::Invalid {
            path: self.path.clone(),
            detail: format!("{detail} (at byte {})", self.pos),
        }
    }

    fn need(&self, n: u64, what: &str) -> Result<(), GgufError> {
        if self.len.saturating_sub(self.pos) < n {
            return Err(GgufError::Truncated {
                path: self.path.clone(),
                detail: format!(
                    "the header ends inside the {what} at byte {} of {}",
                    self.pos, self.len
                ),
            });
        }
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), GgufError> {
        self.need(buf.len() as u64, what)?;
        self.inner.read_exact(buf).map_err(|source| GgufError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn bytes_fixed<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let mut b = [0u8; N];
        self.read_exact(&mut b, what)?;
        Ok(b)
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.bytes_fixed(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.bytes_fixed(what)?))
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), GgufError> {
        self.need(n, what)?;
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink()).map_err(
            |source| GgufError::Io {
                path: self.path.clone(),
                source,
            },
        )?;
        if copied != n {
            return Err(GgufError::Truncated {
                path: self.path.clone(),
                detail: format!("the file ended inside the {what}"),
            });
        }
        self.pos += n;
        Ok(())
    }

    fn string_len(&mut self, what: &str) -> Result<u64, GgufError> {
        let n = self.u64(what)?;
        self.need(n, what)?;
        Ok(n)
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let n = self.string_len(what)?;
        if n > 1 << 20 {
            return Err(self.invalid(format!("{what} is {n} bytes long")));
        }
        let mut buf = vec![0u8; n as usize];
        self.read_exact(&mut buf, what)?;
        String::from_utf8(buf).map_err(|_| self.invalid(format!("{what} is not UTF-8")))
    }

    fn skip_string(&mut self, what: &str) -> Result<(), GgufError> {
        let n = self.string_len(what)?;
        self.skip(n, what)
    }

    fn skip_value(&mut self, ty: u32, key: &str, depth: u32) -> Result<(), GgufError> {
        let fixed = match ty {
            vt::U8 | vt::I8 | vt::BOOL => Some(1),
            vt::U16 | vt::I16 => Some(2),
            vt::U32 | vt::I32 | vt::F32 => Some(4),
            vt::U64 | vt::I64 | vt::F64 => Some(8),
            _ => None,
        };
        if let Some(n) = fixed {
            return self.skip(n, key);
        }
        match ty {
            vt::STRING => self.skip_string(key),
            vt::ARRAY if depth < 2 => {
                let elem = self.u32(key)?;
                let count = self.u64(key)?;
                let min_elem = match elem {
                    vt::U8 | vt::I8 | vt::BOOL => 1,
                    vt::U16 | vt::I16 => 2,
                    vt::U32 | vt::I32 | vt::F32 => 4,
                    vt::U64 | vt::I64 | vt::F64 | vt::STRING => 8,
                    vt::ARRAY => 12,
                    other => {
                        return Err(self.invalid(format!(
                            "metadata {key:?} is an array of unknown type {other}"
                        )))
                    }
                };
                self.need(count.saturating_mul(min_elem), key)?;
                if elem == vt::STRING || elem == vt::ARRAY {
                    for _ in 0..count {
                        self.skip_value(elem, key, depth + 1)?;
                    }
                    Ok(())
                } else {
                    self.skip(count * min_elem, key)
                }
            }
            other => Err(self.invalid(format!("metadata {key:?} has unknown value type {other}"))),
        }
    }
}
