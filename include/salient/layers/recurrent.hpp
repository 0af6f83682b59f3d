// salient/layers/recurrent.hpp — what recurrent layers (LSTM, GRU, Bidirectional) share.
//
//   RnnOutput::LastState     sequence (T, B, In) -> vector (B, H): the state after step L_b - 1
//   RnnOutput::FullSequence  sequence (T, B, In) -> sequence (T, B, H): every step's state,
//                            0 at padded steps (t >= L_b)
//
// Masking, common to every recurrent layer here: a sample of length L is processed for steps
// 0 .. L-1 only; for t >= L its state is frozen (not updated), so "last state" = state at L-1.
// Padded input rows are replaced by zeros before any product, so NaN or huge garbage there can
// never reach an output or a gradient, and no gradient is written into them.
#pragma once

#include <algorithm>
#include <cstring>

#include "../core/layer.hpp"

namespace salient {

/// What a recurrent layer returns: the last valid state (sequence → vector) or every state.
enum class RnnOutput { LastState, FullSequence };
inline constexpr RnnOutput LastState = RnnOutput::LastState;
inline constexpr RnnOutput FullSequence = RnnOutput::FullSequence;

namespace rnn {

/// Shape a recurrent layer with output mode O produces.
template <RnnOutput O>
inline constexpr Shape output_shape = O == RnnOutput::LastState ? Shape::Vector : Shape::Sequence;

constexpr const char* output_tag(RnnOutput o) { return o == RnnOutput::LastState ? "last" : "seq"; }

/// Longest length in the batch (the recurrence never needs to run past it).
inline Index max_length(const Lengths& lengths) {
  Index m = 0;
  for (Index L : lengths) m = std::max(m, L);
  return m;
}

/// Checks a recurrent layer makes on its input: width, one length per sample, each in [1, T].
/// The layer's name is only built on failure (so the check never allocates).
template <class L, class S>
void check_input(const L& layer, const SeqBatch<S>& x, Index in_features) {
  bool ok = x.features() == in_features && Index(x.lengths.size()) == x.batch();
  for (Index L_b : x.lengths) ok = ok && L_b >= 1 && L_b <= x.steps();
  if (ok) return;
  check_features(layer.name(), "input", in_features, x.features());
  require_shape(Index(x.lengths.size()) == x.batch(), layer.name(), ": ", x.lengths.size(),
                " lengths given for a batch of ", x.batch(), " samples");
  for (std::size_t b = 0; b < x.lengths.size(); ++b)
    require_shape(x.lengths[b] >= 1 && x.lengths[b] <= x.steps(), layer.name(), ": sample ", b,
                  " has length ", x.lengths[b], ", outside [1, ", x.steps(), "]");
}

/// The first `steps` steps of x as a (steps·B) × F row block with padded rows zeroed.
/// Returns a pointer into x when no row of those steps is padded, otherwise into `scratch`
/// (resized only when its shape changes).
template <class S>
const S* masked_rows(const SeqBatch<S>& x, Index steps, RowMatrix<S>& scratch) {
  const Index B = x.batch(), F = x.features();
  bool padded = false;
  for (Index L : x.lengths) padded |= L < steps;
  if (!padded) return x.values.data();
  ensure_shape(scratch, steps * B, F);
  for (Index t = 0; t < steps; ++t)
    for (Index b = 0; b < B; ++b) {
      S* dst = scratch.data() + (t * B + b) * F;
      if (t < x.length(b))
        std::memcpy(dst, x.values.data() + (t * B + b) * F, std::size_t(F) * sizeof(S));
      else
        std::fill_n(dst, F, S(0));
    }
  return scratch.data();
}

/// dst(t, b, :) = src(L_b - 1 - t, b, :) for t < L_b and 0 for padded steps: each sample is
/// reversed within its own length (an involution, so it also undoes itself).
template <class S>
void reverse_within_lengths(const Tensor3<S>& src, const Lengths& lengths, Tensor3<S>& dst) {
  const Index T = src.dimension(0), B = src.dimension(1), F = src.dimension(2);
  ensure_shape(dst, T, B, F);
  for (Index t = 0; t < T; ++t)
    for (Index b = 0; b < B; ++b) {
      const Index L = lengths[std::size_t(b)];
      S* d = dst.data() + (t * B + b) * F;
      if (t < L)
        std::memcpy(d, src.data() + ((L - 1 - t) * B + b) * F, std::size_t(F) * sizeof(S));
      else
        std::fill_n(d, F, S(0));
    }
}

/// Logistic sigmoid of n values in place (vectorised by Eigen; finite for any finite input).
template <class S, int N = Dynamic>
inline void sigmoid_inplace(S* p, Index n) {
  Eigen::Map<Eigen::Array<S, N, 1>> a(p, n);
  a = a.logistic();
}
/// tanh of n values in place (vectorised by Eigen for float).
template <class S, int N = Dynamic>
inline void tanh_inplace(S* p, Index n) {
  Eigen::Map<Eigen::Array<S, N, 1>> a(p, n);
  a = a.tanh();
}

// Eigen's packet types carry vector attributes that GCC drops (harmlessly) when they are
// template arguments; silence that front-end note for the kernels below.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

/// C (rows × N, row stride ldc) += A (rows × K, row stride lda) · W (K × N, row-major, dense).
/// A register-blocked kernel for the small-batch recurrent product h_{t-1}·W_hhᵀ (rows = batch
/// size, typically 1..7): W is streamed once per group of up to 4 rows, with no packing and no
/// allocation, where a general GEMM would repack W_hh at every step. Uses Eigen's packet
/// primitives, so it follows whatever SIMD width Eigen was compiled for.
template <class S>
void small_rows_gemm(Index rows, const S* A, Index lda, const S* W, Index K, Index N, S* C, Index ldc);

namespace detail {
template <int R, int NP, class S>
inline void small_rows_block(const S* A, Index lda, const S* W, Index K, Index N, S* C, Index ldc) {
  using namespace Eigen::internal;
  using P = typename packet_traits<S>::type;
  constexpr int PS = unpacket_traits<P>::size;
  P acc[R][NP];
  for (int r = 0; r < R; ++r)
    for (int p = 0; p < NP; ++p) acc[r][p] = ploadu<P>(C + r * ldc + p * PS);
  for (Index k = 0; k < K; ++k) {
    P a[R];
    for (int r = 0; r < R; ++r) a[r] = pset1<P>(A[r * lda + k]);
    const S* w = W + k * N;
    for (int p = 0; p < NP; ++p) {
      const P wp = ploadu<P>(w + p * PS);
      for (int r = 0; r < R; ++r) acc[r][p] = pmadd(a[r], wp, acc[r][p]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int p = 0; p < NP; ++p) pstoreu(C + r * ldc + p * PS, acc[r][p]);
}

template <int R, class S>
inline void small_rows_group(const S* A, Index lda, const S* W, Index K, Index N, S* C, Index ldc) {
  using P = typename Eigen::internal::packet_traits<S>::type;
  constexpr int PS = Eigen::internal::unpacket_traits<P>::size;
  // Accumulators that fit in the vector register file next to R broadcasts and one load.
  constexpr int acc = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 16 : 8;
  constexpr int NP = acc / R > 0 ? acc / R : 1;
  Index j = 0;
  for (; j + NP * PS <= N; j += NP * PS) small_rows_block<R, NP>(A, lda, W + j, K, N, C + j, ldc);
  for (; j + PS <= N; j += PS) small_rows_block<R, 1>(A, lda, W + j, K, N, C + j, ldc);
  for (; j < N; ++j)
    for (int r = 0; r < R; ++r) {
      S s = C[r * ldc + j];
      for (Index k = 0; k < K; ++k) s += A[r * lda + k] * W[k * N + j];
      C[r * ldc + j] = s;
    }
}
}  // namespace detail

template <class S>
void small_rows_gemm(Index rows, const S* A, Index lda, const S* W, Index K, Index N, S* C, Index ldc) {
  Index r = 0;
  for (; r + 4 <= rows; r += 4) detail::small_rows_group<4>(A + r * lda, lda, W, K, N, C + r * ldc, ldc);
  if (r + 2 <= rows) {
    detail::small_rows_group<2>(A + r * lda, lda, W, K, N, C + r * ldc, ldc);
    r += 2;
  }
  if (r < rows) detail::small_rows_group<1>(A + r * lda, lda, W, K, N, C + r * ldc, ldc);
}

/// dst (cols × rows, row-major) = srcᵀ, src (rows × cols, row-major). Square tiles of one
/// SIMD width are transposed in registers (Eigen's ptranspose); edges element by element.
template <class S>
void transpose_into(const S* src, Index rows, Index cols, S* dst) {
  using namespace Eigen::internal;
  using P = typename packet_traits<S>::type;
  constexpr Index PS = unpacket_traits<P>::size;
  const Index rv = rows / PS * PS, cv = cols / PS * PS;
  if constexpr (PS > 1) {
    PacketBlock<P, int(PS)> blk;
    for (Index i0 = 0; i0 < rv; i0 += PS)
      for (Index j0 = 0; j0 < cv; j0 += PS) {
        for (Index r = 0; r < PS; ++r) blk.packet[r] = ploadu<P>(src + (i0 + r) * cols + j0);
        ptranspose(blk);
        for (Index r = 0; r < PS; ++r) pstoreu(dst + (j0 + r) * rows + i0, blk.packet[r]);
      }
  }
  for (Index i = 0; i < rows; ++i)
    for (Index j = (i < rv ? cv : 0); j < cols; ++j) dst[j * rows + i] = src[i * cols + j];
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// Batches below this size use small_rows_gemm for the per-step recurrent product.
inline constexpr Index small_batch = 8;

}  // namespace rnn
}  // namespace salient
