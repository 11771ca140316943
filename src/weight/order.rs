//! Design order: the rows sorted stably by stratum, then PSU, so that every PSU is a run.
//!
//! Data are put in design order by *scattering* them, each row to its position, not by
//! gathering each position's row. A gather reads a respondent of one stratum, then one of the
//! next: in a file whose strata are mixed, a new cache line for every row (at 10M rows, 10 ns
//! a row). A scatter reads the rows in their own order and writes each stratum's rows one
//! after the other, a cache line per stratum at a time.

use polars::prelude::*;
use polars_arrow::array::{Array, BooleanArray};
use polars_arrow::bitmap::Bitmap;
use rayon::prelude::*;

/// The rows in design order, and the position of each row in it.
pub(super) struct DesignOrder {
    /// The rows in design order.
    pub order: Vec<u32>,
    /// The position of each row in design order (`order[position[r]] == r`).
    pub position: Vec<u32>,
}

impl DesignOrder {
    /// Rows stably by stratum (dense codes per row), then by PSU when there are PSUs (dense
    /// codes per row, nested in the strata).
    pub fn new(strata: &[u32], psus: Option<&[u32]>) -> Self {
        match psus {
            // One pass: the rows' own order is the order the sort assigns their positions in.
            None => {
                let (order, position) = counting_sort_rows(strata);
                DesignOrder { order, position }
            }
            // By PSU, then stably by stratum.
            Some(psus) => {
                let (by_psu, _) = counting_sort(psus, 0..psus.len() as u32);
                let (order, _) = counting_sort(strata, by_psu.into_iter());
                let mut position = vec![0u32; order.len()];
                for (p, &row) in order.iter().enumerate() {
                    position[row as usize] = p as u32;
                }
                DesignOrder { order, position }
            }
        }
    }

    /// `values`, one per row in the rows' order, in design order.
    pub fn scatter<T: Copy + Default>(&self, values: impl IntoIterator<Item = T>) -> Vec<T> {
        let mut out = vec![T::default(); self.position.len()];
        for (value, &p) in values.into_iter().zip(&self.position) {
            out[p as usize] = value;
        }
        out
    }

    /// `values`, one per row in the rows' order, in design order: [`DesignOrder::scatter`],
    /// with the rows split among the threads when there are many.
    pub fn scatter_slice<T: Copy + Default + Send + Sync>(&self, values: &[T]) -> Vec<T> {
        let rows = self.position.len();
        assert_eq!(values.len(), rows, "a value per row");
        let Some(chunk) = parallel_chunk(rows) else {
            return self.scatter(values.iter().copied());
        };
        let mut out = vec![T::default(); rows];
        let target = Target(out.as_mut_ptr());
        values
            .par_chunks(chunk)
            .zip(self.position.par_chunks(chunk))
            .for_each(|(values, positions)| {
                for (&value, &p) in values.iter().zip(positions) {
                    // SAFETY: `position` is a permutation of `0..rows` (see `new`): every
                    // position is in `out` and written by one row, so by one thread.
                    unsafe { target.get().add(p as usize).write(value) };
                }
            });
        out
    }

    /// `frame` in design order, its columns in parallel: numbers and booleans scattered, any
    /// other type gathered by polars.
    pub fn frame(&self, frame: &DataFrame) -> PolarsResult<DataFrame> {
        let columns = frame
            .columns()
            .par_iter()
            .map(|c| self.column(c.as_materialized_series()).map(Column::from))
            .collect::<PolarsResult<Vec<_>>>()?;
        DataFrame::new(frame.height(), columns)
    }

    fn column(&self, series: &Series) -> PolarsResult<Series> {
        Ok(match series.dtype() {
            DataType::Int8 => self.numbers(series.i8()?),
            DataType::Int16 => self.numbers(series.i16()?),
            DataType::Int32 => self.numbers(series.i32()?),
            DataType::Int64 => self.numbers(series.i64()?),
            DataType::UInt8 => self.numbers(series.u8()?),
            DataType::UInt16 => self.numbers(series.u16()?),
            DataType::UInt32 => self.numbers(series.u32()?),
            DataType::UInt64 => self.numbers(series.u64()?),
            DataType::Float32 => self.numbers(series.f32()?),
            DataType::Float64 => self.numbers(series.f64()?),
            DataType::Boolean => {
                let values = series.bool()?;
                let bits = self.scatter(values.downcast_iter().flat_map(|a| a.values().iter()));
                let array = BooleanArray::new(
                    ArrowDataType::Boolean,
                    Bitmap::from_iter(bits),
                    self.validity(values),
                );
                BooleanChunked::with_chunk(series.name().clone(), array).into_series()
            }
            _ => series.take_slice(&self.order)?,
        })
    }

    fn numbers<T: PolarsNumericType>(&self, values: &ChunkedArray<T>) -> Series {
        let scattered = match values.cont_slice() {
            Ok(slice) => self.scatter_slice(slice),
            Err(_) => self.scatter(
                values
                    .downcast_iter()
                    .flat_map(|a| a.values().iter().copied()),
            ),
        };
        ChunkedArray::<T>::from_vec_validity(
            values.name().clone(),
            scattered,
            self.validity(values),
        )
        .into_series()
    }

    /// The validity of `values` in design order, when some are null.
    fn validity<T: PolarsDataType>(&self, values: &ChunkedArray<T>) -> Option<Bitmap> {
        (values.null_count() > 0).then(|| {
            let valid = values
                .downcast_iter()
                .flat_map(|a| (0..a.len()).map(move |i| a.is_valid(i)));
            Bitmap::from_iter(self.scatter(valid))
        })
    }
}

/// Rows from which the counting sort of all rows and [`DesignOrder::scatter_slice`] split the
/// rows among the threads, at least this many to a thread.
const PARALLEL_ROWS: usize = 1 << 16;

/// Rows per thread when `rows` rows are split among the threads; `None` for one thread.
fn parallel_chunk(rows: usize) -> Option<usize> {
    let threads = rayon::current_num_threads();
    (threads > 1 && rows >= 2 * PARALLEL_ROWS).then(|| rows.div_ceil(threads).max(PARALLEL_ROWS))
}

/// A vector's buffer that the threads of a sort or scatter write through, each to positions
/// no other thread writes.
#[derive(Clone, Copy)]
struct Target<T>(*mut T);

// SAFETY: the threads write disjoint positions (see the uses), and the buffer outlives them.
unsafe impl<T: Send> Send for Target<T> {}
unsafe impl<T: Send> Sync for Target<T> {}

impl<T> Target<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

/// All rows `0..keys.len()` reordered stably by `keys[row]`, and the position each took:
/// [`counting_sort`], with the rows split among the threads when there are many. Each thread
/// counts the keys of its rows; a key's rows of one thread go after those of the threads
/// with earlier rows (the sort stays stable); then each thread places its rows.
fn counting_sort_rows(keys: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let Some(chunk) = parallel_chunk(keys.len()) else {
        return counting_sort(keys, 0..keys.len() as u32);
    };
    let buckets = keys.par_iter().max().map_or(0, |&k| k as usize + 1);
    let counts: Vec<Vec<u32>> = keys
        .par_chunks(chunk)
        .map(|keys| {
            let mut counts = vec![0u32; buckets];
            for &key in keys {
                counts[key as usize] += 1;
            }
            counts
        })
        .collect();
    // Per thread, where its rows of each key start.
    let mut starts = vec![vec![0u32; buckets]; counts.len()];
    let mut next = 0u32;
    for key in 0..buckets {
        for (starts, counts) in starts.iter_mut().zip(&counts) {
            starts[key] = next;
            next += counts[key];
        }
    }
    let mut sorted = vec![0u32; keys.len()];
    let mut positions = vec![0u32; keys.len()];
    let target = Target(sorted.as_mut_ptr());
    keys.par_chunks(chunk)
        .zip(positions.par_chunks_mut(chunk))
        .zip(starts)
        .enumerate()
        .for_each(|(part, ((keys, positions), mut starts))| {
            let first = (part * chunk) as u32;
            for (row, (&key, position)) in (first..).zip(keys.iter().zip(positions)) {
                let slot = &mut starts[key as usize];
                // SAFETY: the slots of a (thread, key) are a range of their own within
                // `0..keys.len()` (the counts above), each taken once.
                unsafe { target.get().add(*slot as usize).write(row) };
                *position = *slot;
                *slot += 1;
            }
        });
    (sorted, positions)
}

/// `rows` (every row once, in some order) reordered stably by `keys[row]` (dense codes), and
/// the position each of them took: a counting sort, linear in the rows (a comparison sort of
/// 10,000,000 rows took 2.5 s, a third of building the design).
fn counting_sort(keys: &[u32], rows: impl Iterator<Item = u32>) -> (Vec<u32>, Vec<u32>) {
    let buckets = keys.iter().max().map_or(0, |&k| k as usize + 1);
    let mut starts = vec![0u32; buckets + 1];
    for &key in keys {
        starts[key as usize + 1] += 1;
    }
    for b in 0..buckets {
        starts[b + 1] += starts[b];
    }
    let mut sorted = vec![0u32; keys.len()];
    let mut positions = Vec::with_capacity(keys.len());
    for row in rows {
        let slot = &mut starts[keys[row as usize] as usize];
        sorted[*slot as usize] = row;
        positions.push(*slot);
        *slot += 1;
    }
    (sorted, positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_order_is_the_stable_sort_by_stratum_then_psu() {
        let strata = [2u32, 0, 1, 0, 2, 1, 0, 0, 2];
        let psus = [5u32, 1, 0, 1, 2, 3, 4, 0, 5];
        let rows: Vec<u32> = (0..9).collect();
        let by_stratum_and_psu = |i: &u32| (strata[*i as usize], psus[*i as usize]);
        let by_stratum = |i: &u32| strata[*i as usize];
        let mut expected = [rows.clone(), rows.clone()];
        expected[0].sort_by_key(by_stratum_and_psu);
        expected[1].sort_by_key(by_stratum);
        for (psus, expected) in [Some(&psus[..]), None].into_iter().zip(expected) {
            let order = DesignOrder::new(&strata, psus);
            assert_eq!(order.order, expected);
            for (p, &row) in order.order.iter().enumerate() {
                assert_eq!(order.position[row as usize], p as u32);
            }
            let scattered = order.scatter(rows.iter().map(|&r| r * 10));
            assert_eq!(
                scattered,
                expected.iter().map(|&r| r * 10).collect::<Vec<_>>()
            );
        }
        assert!(DesignOrder::new(&[], None).order.is_empty());
    }

    /// With the rows split among threads (many rows), the order, the positions and a scatter
    /// are those of one thread's counting sort.
    #[test]
    fn many_rows_sort_and_scatter_as_on_one_thread() {
        let rows = 5 * PARALLEL_ROWS + 123;
        // Strata in runs and mixed, some strata without rows.
        let strata: Vec<u32> = (0..rows as u64)
            .map(|i| ((i * 2_654_435_761) % 1_000 / 3 + (i / 50_000) * 7) as u32 % 340)
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let order = pool.install(|| DesignOrder::new(&strata, None));
        let (sorted, positions) = counting_sort(&strata, 0..rows as u32);
        assert!(order.order == sorted && order.position == positions);
        let values: Vec<f64> = (0..rows).map(|i| i as f64 * 0.5 - 7.0).collect();
        let scattered = pool.install(|| order.scatter_slice(&values));
        assert_eq!(scattered, order.scatter(values.iter().copied()));
    }

    #[test]
    fn a_frame_in_design_order_is_polars_gather_of_it() {
        let strata = [1u32, 0, 1, 2, 0, 2, 1];
        let order = DesignOrder::new(&strata, None);
        let frame = df![
            "i" => [Some(1i64), None, Some(3), Some(4), None, Some(6), Some(7)],
            "x" => [0.5f64, -0.0, f64::NAN, 1e300, 2.0, 3.0, 4.0],
            "small" => [Some(1i32), Some(2), None, Some(4), Some(5), Some(6), Some(7)],
            "flag" => [Some(true), None, Some(false), Some(true), Some(false), None, Some(true)],
            "text" => [Some("a"), Some("b"), None, Some("d"), Some("e"), Some("f"), Some("g")],
        ]
        .unwrap();
        // In two chunks, as a frame read in parts.
        let mut chunked = frame.slice(0, 3);
        chunked.vstack_mut(&frame.slice(3, 4)).unwrap();
        let gathered = frame
            .take(&IdxCa::from_vec("order".into(), order.order.clone()))
            .unwrap();
        let scattered = order.frame(&chunked).unwrap();
        assert_eq!(scattered.schema(), gathered.schema());
        for (a, b) in scattered.columns().iter().zip(gathered.columns()) {
            assert!(
                a.as_materialized_series()
                    .equals_missing(b.as_materialized_series())
                    || a.name() == "x"
            );
        }
        // NaN and -0.0 bit for bit.
        let bits = |f: &DataFrame| -> Vec<u64> {
            f.column("x")
                .unwrap()
                .f64()
                .unwrap()
                .into_no_null_iter()
                .map(f64::to_bits)
                .collect()
        };
        assert_eq!(bits(&scattered), bits(&gathered));
    }
}
