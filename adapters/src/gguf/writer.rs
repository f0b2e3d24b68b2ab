//! Writes GGUF v3 files whose tensor rows are produced on the fly, so a 500 MB model never
//! has to sit in memory.

use super::{value_type as vt, TensorType, DEFAULT_ALIGNMENT, MAGIC, VERSION};
use half::f16;
use std::io::{self, Write};

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// `u32`.
    U32(u32),
    /// `i32`.
    I32(i32),
    /// `f32`.
    F32(f32),
    /// `bool`.
    Bool(bool),
    /// A UTF-8 string.
    Str(String),
    /// An array of strings.
    StrArray(Vec<String>),
    /// An array of `f32`.
    F32Array(Vec<f32>),
    /// An array of `i32`.
    I32Array(Vec<i32>),
}

/// Fills row `row` of a tensor with f32 values; the writer converts them to the tensor's type.
pub type RowFn<'a> = Box<dyn Fn(u64, &mut [f32]) + 'a>;

/// A tensor to write: `rows x cols` in numpy order (ggml dims are `[cols, rows]`).
pub struct TensorData<'a> {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Number of rows (1 for vectors).
    pub rows: u64,
    /// Values per row.
    pub cols: u64,
    /// Storage type.
    pub ty: TensorType,
    /// Row generator.
    pub fill: RowFn<'a>,
}

impl std::fmt::Debug for TensorData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TensorData")
            .field("name", &self.name)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("ty", &self.ty)
            .finish()
    }
}

impl TensorData<'_> {
    fn bytes(&self) -> u64 {
        self.rows * self.ty.row_bytes(self.cols)
    }
}

/// A GGUF file under construction.
#[derive(Debug, Default)]
pub struct GgufWriter<'a> {
    meta: Vec<(String, MetaValue)>,
    tensors: Vec<TensorData<'a>>,
}

impl<'a> GgufWriter<'a> {
    /// An empty file.
    pub fn new() -> Self {
        GgufWriter::default()
    }

    /// Adds a metadata entry.
    pub fn meta(&mut self, key: impl Into<String>, value: MetaValue) -> &mut Self {
        self.meta.push((key.into(), value));
        self
    }

    /// Adds a tensor. Q8_0 rows must be a multiple of 32 values long.
    pub fn tensor(&mut self, t: TensorData<'a>) -> io::Result<&mut Self> {
        if t.ty == TensorType::Q8_0 && !t.cols.is_multiple_of(32) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: Q8_0 rows need a multiple of 32 values, not {}",
                    t.name, t.cols
                ),
            ));
        }
        self.tensors.push(t);
        Ok(self)
    }

    /// Total number of tensor elements.
    pub fn n_params(&self) -> u64 {
        self.tensors.iter().map(|t| t.rows * t.cols).sum()
    }

    /// Writes the whole file and returns its length in bytes.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<u64> {
        let mut w = Counting { inner: out, n: 0 };
        w.write_all(&MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        w.write_all(&(self.tensors.len() as u64).to_le_bytes())?;
        w.write_all(&(self.meta.len() as u64).to_le_bytes())?;
        for (key, value) in &self.meta {
            write_str(&mut w, key)?;
            write_value(&mut w, value)?;
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            write_str(&mut w, &t.name)?;
            if t.rows == 1 {
                w.write_all(&1u32.to_le_bytes())?;
                w.write_all(&t.cols.to_le_bytes())?;
            } else {
                w.write_all(&2u32.to_le_bytes())?;
                w.write_all(&t.cols.to_le_bytes())?;
                w.write_all(&t.rows.to_le_bytes())?;
            }
            w.write_all(&t.ty.ggml_id().to_le_bytes())?;
            w.write_all(&offset.to_le_bytes())?;
            offset = align(offset + t.bytes());
        }
        pad(&mut w)?;
        let mut row = Vec::new();
        let mut encoded = Vec::new();
        for t in &self.tensors {
            row.resize(t.cols as usize, 0.0);
            for r in 0..t.rows {
                row.fill(0.0);
                (t.fill)(r, &mut row);
                encoded.clear();
                encode_row(t.ty, &row, &mut encoded);
                w.write_all(&encoded)?;
            }
            pad(&mut w)?;
        }
        w.flush()?;
        Ok(w.n)
    }
}

fn align(n: u64) -> u64 {
    n.div_ceil(DEFAULT_ALIGNMENT) * DEFAULT_ALIGNMENT
}

fn pad(w: &mut Counting<impl Write>) -> io::Result<()> {
    let zeros = [0u8; DEFAULT_ALIGNMENT as usize];
    let n = (align(w.n) - w.n) as usize;
    w.write_all(&zeros[..n])
}

fn write_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    w.write_all(&(s.len() as u64).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn write_value(w: &mut impl Write, v: &MetaValue) -> io::Result<()> {
    match v {
        MetaValue::U32(x) => {
            w.write_all(&vt::U32.to_le_bytes())?;
            w.write_all(&x.to_le_bytes())
        }
        MetaValue::I32(x) => {
            w.write_all(&vt::I32.to_le_bytes())?;
            w.write_all(&x.to_le_bytes())
        }
        MetaValue::F32(x) => {
            w.write_all(&vt::F32.to_le_bytes())?;
            w.write_all(&x.to_le_bytes())
        }
        MetaValue::Bool(x) => {
            w.write_all(&vt::BOOL.to_le_bytes())?;
            w.write_all(&[u8::from(*x)])
        }
        MetaValue::Str(s) => {
            w.write_all(&vt::STRING.to_le_bytes())?;
            write_str(w, s)
        }
        MetaValue::StrArray(items) => {
            array_head(w, vt::STRING, items.len())?;
            items.iter().try_for_each(|s| write_str(w, s))
        }
        MetaValue::F32Array(items) => {
            array_head(w, vt::F32, items.len())?;
            items.iter().try_for_each(|x| w.write_all(&x.to_le_bytes()))
        }
        MetaValue::I32Array(items) => {
            array_head(w, vt::I32, items.len())?;
            items.iter().try_for_each(|x| w.write_all(&x.to_le_bytes()))
        }
    }
}

fn array_head(w: &mut impl Write, elem: u32, len: usize) -> io::Result<()> {
    w.write_all(&vt::ARRAY.to_le_bytes())?;
    w.write_all(&elem.to_le_bytes())?;
    w.write_all(&(len as u64).to_le_bytes())
}

/// Appends one row in the tensor's storage format.
fn encode_row(ty: TensorType, row: &[f32], out: &mut Vec<u8>) {
    match ty {
        TensorType::F32 => row
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        TensorType::F16 => row
            .iter()
            .for_each(|x| out.extend_from_slice(&f16::from_f32(*x).to_le_bytes())),
        TensorType::Q8_0 => {
            for block in row.chunks_exact(32) {
                let amax = block.iter().fold(0f32, |m, x| m.max(x.abs()));
                let d = amax / 127.0;
                let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
                out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
                out.extend(block.iter().map(|x| (x * inv).round() as i8 as u8));
            }
        }
    }
}

struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_0_rows_round_trip_within_one_step() {
        let row: Vec<f32> = (0..64).map(|i| (i as f32 - 32.0) / 10.0).collect();
        let mut out = Vec::new();
        encode_row(TensorType::Q8_0, &row, &mut out);
        assert_eq!(out.len(), 68);
        for (b, block) in row.chunks(32).enumerate() {
            let bytes = &out[b * 34..(b + 1) * 34];
            let d = f16::from_le_bytes([bytes[0], bytes[1]]).to_f32();
            for (i, x) in block.iter().enumerate() {
                let q = bytes[2 + i] as i8 as f32;
                assert!((q * d - x).abs() <= d, "{x} vs {}", q * d);
            }
        }
    }
}
