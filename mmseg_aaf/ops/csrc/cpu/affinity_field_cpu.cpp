// Copyright (c) mmseg_aaf contributors. All rights reserved.
//
// The affinity field as one fused CPU kernel: the CPU implementation of the
// operators mmseg_aaf::affinity_field_forward and
// mmseg_aaf::affinity_field_backward (schemas, autograd formula and fake
// kernels in mmseg_aaf/ops/affinity_field.py; the semantics, and the torch
// reference this is tested against, in
// mmseg_aaf/models/losses/affinity_field.py).
//
// Layout of the work:
// * Blocks of rows of one image run in parallel (at::parallel_for, torch's
//   OpenMP pool). A block writes the clipped p, 1 - p, their logs and the
//   neighbour-only term h = sum_c p log p + (1 - p) log(1 - p) of its rows,
//   plus a halo of the largest half-size, into a buffer of its own. The
//   block size depends on the shape only, and partial sums are added up in
//   block order, so results do not depend on the number of threads.
// * Summed over channels, the divergence of a pair (i, j) is
//   h(j) - sum_c [p log r + (1 - p) log(1 - r)], p at j and r at i: one
//   multiply-add pair per channel. Those dense loops run along x with unit
//   stride and no branches; they are compiled twice (AVX2 + FMA and
//   baseline x86-64) and picked at load time.
// * Only the two label channels of a pair with different labels are edge
//   entries. Those pairs are listed per row; each has its exact divergence
//   removed from the dense sum and its hinge added, in scalar code.
// * Backward gathers, per pixel, the pairs it is the centre of and the
//   pairs it is the neighbour of, so each gradient element is written by
//   one thread, without atomics. Nothing of the input's size is allocated
//   but the gradient.
#include <Python.h>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/LegacyTypeDispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/clamp.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/log.h>
#include <ATen/ops/rsub.h>
#include <c10/util/irange.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define ROW_KERNEL \
  __attribute__((target_clones("arch=x86-64-v3", "default"))) static
#else
#define ROW_KERNEL static
#endif

namespace mmseg_aaf {
namespace {

constexpr double kProbFloor = 1e-4;
constexpr double kProbCeil = 1.0;
constexpr int kRing[8][2] = {{-1, -1}, {-1, 0}, {-1, 1}, {0, -1},
                             {0, 1},   {1, -1}, {1, 0},  {1, 1}};
// Rows of a block: as many as keep its window near this size (it is read
// 8 K times per row), at least kMinBlockRows.
constexpr int64_t kWindowBytes = 1 << 21;
constexpr int64_t kMinBlockRows = 8;
// Edge entries are handled densely (every channel of every pair, branch
// free) when a pass has more edge pairs than pixels * C / kEdgeCost, and
// one by one otherwise: few classes and many boundaries favour the first,
// many classes the second. Both compute the same terms.
constexpr int64_t kEdgeCost = 16;
inline bool dense_edges(int64_t edges, int64_t pixels, int64_t channels) {
  return edges * kEdgeCost > pixels * channels;
}

// ---- Row kernels: unit stride, no branches, vectorised by the compiler. --

#define DEFINE_ROW_KERNELS(T)                                                \
  /* acc = (acc if keep) + a1 * b1 + a2 * b2 */                               \
  ROW_KERNEL void dot2(T* __restrict acc, const T* __restrict a1,            \
                       const T* __restrict b1, const T* __restrict a2,       \
                       const T* __restrict b2, int64_t n, bool keep) {       \
    if (keep) {                                                               \
      for (int64_t x = 0; x < n; ++x) acc[x] += a1[x] * b1[x] + a2[x] * b2[x]; \
    } else {                                                                  \
      for (int64_t x = 0; x < n; ++x) acc[x] = a1[x] * b1[x] + a2[x] * b2[x];  \
    }                                                                         \
  }                                                                           \
  /* out += valid * (h - dot) */                                              \
  ROW_KERNEL void add_masked_difference(T* __restrict out,                   \
                                        const T* __restrict valid,           \
                                        const T* __restrict h,               \
                                        const T* __restrict dot, int64_t n) { \
    for (int64_t x = 0; x < n; ++x) out[x] += valid[x] * (h[x] - dot[x]);    \
  }                                                                           \
  /* a += v * c * x, b += v * c * y (v: validity, c: coefficient) */       \
  ROW_KERNEL void axpy2(T* __restrict a, T* __restrict b,                    \
                        const T* __restrict v, const T* __restrict c,        \
                        const T* __restrict x_, const T* __restrict y_,      \
                        int64_t n) {                                          \
    for (int64_t x = 0; x < n; ++x) {                                         \
      const T coef = v[x] * c[x];                                             \
      a[x] += coef * x_[x];                                                   \
      b[x] += coef * y_[x];                                                   \
    }                                                                         \
  }                                                                           \
  /* acc += v * c */                                                          \
  ROW_KERNEL void add_product(T* __restrict acc, const T* __restrict v,      \
                              const T* __restrict c, int64_t n) {            \
    for (int64_t x = 0; x < n; ++x) acc[x] += v[x] * c[x];                    \
  }                                                                           \
  /* One channel's exact divergence of every valid pair (x, x + off): to   \
     the hinge where the channel is one of the two labels of a pair with    \
     different labels (an edge entry), else to the non-edge sum. */         \
  ROW_KERNEL void edge_entries_forward(                                       \
      T* __restrict ne, T* __restrict e, const T* __restrict v,              \
      const int32_t* __restrict a, int64_t off, int32_t ch,                   \
      const T* __restrict q, const T* __restrict qb,                          \
      const T* __restrict lq, const T* __restrict lqb, T margin,             \
      int64_t n) {                                                            \
    for (int64_t x = 0; x < n; ++x) {                                         \
      const T kl = q[x + off] * (lq[x + off] - lq[x]) +                       \
                   qb[x + off] * (lqb[x + off] - lqb[x]);                     \
      const int32_t la = a[x], lb = a[x + off];                               \
      const T ie = v[x] * static_cast<T>((la != lb) & ((la == ch) |          \
                                                       (lb == ch)));          \
      const T hinge = margin - kl;                                            \
      ne[x] += (v[x] - ie) * kl;                                              \
      e[x] += ie * (hinge > T(0) ? hinge : T(0));                             \
    }                                                                         \
  }                                                                           \
  /* The backward of one channel's entries of the pairs (x, x + off),     \
     each with its own coefficient (edge or non-edge): centre role into    \
     as_q, as_qb. */                                                        \
  ROW_KERNEL void entries_centre(                                             \
      T* __restrict as_q, T* __restrict as_qb, const T* __restrict v,        \
      const T* __restrict cn, const T* __restrict ce,                         \
      const int32_t* __restrict a, int64_t off, int32_t ch,                   \
      const T* __restrict q, const T* __restrict qb,                          \
      const T* __restrict lq, const T* __restrict lqb, T margin,             \
      int64_t n) {                                                            \
    for (int64_t x = 0; x < n; ++x) {                                         \
      const T kl = q[x + off] * (lq[x + off] - lq[x]) +                       \
                   qb[x + off] * (lqb[x + off] - lqb[x]);                     \
      const int32_t la = a[x], lb = a[x + off];                               \
      const bool ie = (la != lb) & ((la == ch) | (lb == ch));                 \
      const T edge = kl < margin ? -ce[x] : T(0);                             \
      const T coef = v[x] * (ie ? edge : cn[x]);                              \
      as_q[x] += coef * q[x + off];                                           \
      as_qb[x] += coef * qb[x + off];                                         \
    }                                                                         \
  }                                                                           \
  /* Neighbour role: pixel x of the pair (x - off, x), into as_lr, as_lrb. */ \
  ROW_KERNEL void entries_neighbour(                                          \
      T* __restrict as_lr, T* __restrict as_lrb, const T* __restrict v,      \
      const T* __restrict cn, const T* __restrict ce,                         \
      const int32_t* __restrict a, int64_t off, int32_t ch,                   \
      const T* __restrict q, const T* __restrict qb,                          \
      const T* __restrict lq, const T* __restrict lqb, T margin,             \
      int64_t n) {                                                            \
    for (int64_t x = 0; x < n; ++x) {                                         \
      const T dlog = lq[x] - lq[x - off], dlogb = lqb[x] - lqb[x - off];      \
      const T kl = q[x] * dlog + qb[x] * dlogb;                               \
      const int32_t la = a[x - off], lb = a[x];                               \
      const bool ie = (la != lb) & ((la == ch) | (lb == ch));                 \
      const T edge = kl < margin ? -ce[x - off] : T(0);                       \
      const T coef = v[x - off] * (ie ? edge : cn[x - off]);                  \
      as_lr[x] -= coef * (dlog + T(1));                                       \
      as_lrb[x] -= coef * (dlogb + T(1));                                     \
    }                                                                         \
  }                                                                           \
  /* h += q * lq + qb * lqb */                                                \
  ROW_KERNEL void add_entropy(T* __restrict h, const T* __restrict q,        \
                              const T* __restrict lq,                        \
                              const T* __restrict qb,                        \
                              const T* __restrict lqb, int64_t n) {          \
    for (int64_t x = 0; x < n; ++x) h[x] += q[x] * lq[x] + qb[x] * lqb[x];    \
  }

DEFINE_ROW_KERNELS(float)
DEFINE_ROW_KERNELS(double)

// A pair (x, x + off) with its opposite x - off: valid when no label is
// negative (ignored, or the padding outside the image); an edge pair when
// valid and the labels of x and x + off differ. Adds the valid and the
// edge pairs to the counts.
template <typename T>
static inline void pair_flags_impl(T* __restrict valid,
                                   uint8_t* __restrict edge,
                                   const int32_t* __restrict a, int64_t off,
                                   int64_t n, int64_t* counts) {
  int64_t valid_count = 0, edge_count = 0;
  for (int64_t x = 0; x < n; ++x) {
    const int32_t centre = a[x], neighbour = a[x + off];
    const int ok = (centre >= 0) & (neighbour >= 0) & (a[x - off] >= 0);
    const int is_edge = ok & (centre != neighbour);
    valid[x] = static_cast<T>(ok);
    edge[x] = static_cast<uint8_t>(is_edge);
    valid_count += ok;
    edge_count += is_edge;
  }
  counts[0] += valid_count;
  counts[1] += edge_count;
}
ROW_KERNEL void pair_flags(float* valid, uint8_t* edge, const int32_t* a,
                           int64_t off, int64_t n, int64_t* counts) {
  pair_flags_impl(valid, edge, a, off, n, counts);
}
ROW_KERNEL void pair_flags(double* valid, uint8_t* edge, const int32_t* a,
                           int64_t off, int64_t n, int64_t* counts) {
  pair_flags_impl(valid, edge, a, off, n, counts);
}

struct Geometry {
  int64_t n, c, h, w, k, reach, block_rows;
  int64_t blocks_per_image() const {
    return (h + block_rows - 1) / block_rows;
  }
};

Geometry check_inputs(const at::Tensor& probs, const at::Tensor& labels,
                      at::IntArrayRef half_sizes) {
  TORCH_CHECK(probs.dim() == 4, "affinity_field: probs must be (N, C, H, W)");
  TORCH_CHECK(probs.scalar_type() == at::kFloat ||
                  probs.scalar_type() == at::kDouble,
              "affinity_field: probs must be float32 or float64, got ",
              probs.scalar_type());
  TORCH_CHECK(labels.dim() == 3 && labels.size(0) == probs.size(0) &&
                  labels.size(1) == probs.size(2) &&
                  labels.size(2) == probs.size(3),
              "affinity_field: labels must be (N, H, W) matching probs");
  TORCH_CHECK(labels.scalar_type() == at::kLong,
              "affinity_field: labels must be int64");
  TORCH_CHECK(!half_sizes.empty(), "affinity_field: no half-sizes");
  int64_t reach = 0;
  for (int64_t s : half_sizes) {
    TORCH_CHECK(s >= 1, "affinity_field: half-sizes must be >= 1");
    reach = std::max(reach, s);
  }
  Geometry g{probs.size(0), probs.size(1), probs.size(2), probs.size(3),
             static_cast<int64_t>(half_sizes.size()), reach, 1};
  // What a block keeps per row: 5 planes and 4 accumulators per channel,
  // a validity row per (size, offset) and two coefficient rows per size.
  const int64_t row_bytes = std::max<int64_t>(
      1, (9 * g.c + 18 * g.k) * g.w * probs.element_size());
  g.block_rows = std::min(std::max(g.h, int64_t(1)),
                          std::max(kMinBlockRows, kWindowBytes / row_bytes));
  return g;
}

// Rows [r0, r1) of one image, flattened, with `pad` elements before and
// after: planes q, 1 - q (clipped), their logs, and h, plus the labels
// (-1 in the padding outside the image). Offsets of the pairs are constant in this flat
// layout (dy s W + dx s); a pair that wraps around a row side is invalid,
// and the padding keeps every read of one inside the buffer.
template <typename T>
struct Window {
  int64_t r0 = 0, r1 = 0, w = 0, c = 0, pad = 0, stride = 0;
  std::vector<T> data;
  std::vector<int32_t> labels;

  void fill(const at::Tensor& probs, const int32_t* lab, const Geometry& g,
            int64_t n, int64_t first, int64_t last) {
    r0 = first;
    r1 = last;
    w = g.w;
    c = g.c;
    pad = g.reach * g.w + g.reach;
    const int64_t pixels = (r1 - r0) * w;
    stride = pixels + 2 * pad;
    data.assign((4 * c + 1) * stride, T(0));
    // The labels reach g.reach rows further, where the image has them:
    // a window centre's pair is valid only if its opposite is labelled.
    labels.assign(stride, -1);
    const int64_t l0 = std::max<int64_t>(0, r0 - g.reach);
    const int64_t l1 = std::min(g.h, r1 + g.reach);
    std::copy(lab + (n * g.h + l0) * w, lab + (n * g.h + l1) * w,
              labels.begin() + pad - (r0 - l0) * w);
    // ATen's own clamp and log (the reference's, vectorised): called
    // inside the parallel region, they run on this thread, below autograd.
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    const at::Tensor src = probs[n].narrow(1, r0, r1 - r0).reshape(
        {c, pixels});
    auto view = [&](int which) {
      return at::from_blob(data.data() + which * c * stride + pad,
                           {c, pixels}, {stride, 1}, probs.options());
    };
    at::Tensor q = view(0), qb = view(1), lq = view(2), lqb = view(3);
    at::clamp_out(q, src, kProbFloor, kProbCeil);
    at::rsub_out(qb, src, 1);
    qb.clamp_(kProbFloor, kProbCeil);
    at::log_out(lq, q);
    at::log_out(lqb, qb);
    for (const auto ch : c10::irange(c)) {
      add_entropy(entropy(r0), plane(0, ch, r0), plane(2, ch, r0),
                  plane(1, ch, r0), plane(3, ch, r0), pixels);
    }
  }
  // Pixel (y, 0) of plane 0..3 (q, 1 - q, log q, log(1 - q)) of a channel,
  // y absolute; the pointer may be moved by any pair offset.
  T* plane(int which, int64_t ch, int64_t y) {
    return data.data() + (which * c + ch) * stride + pad + (y - r0) * w;
  }
  T* entropy(int64_t y) {
    return data.data() + 4 * c * stride + pad + (y - r0) * w;
  }
  const int32_t* label(int64_t y) const {
    return labels.data() + pad + (y - r0) * w;
  }
};

// What pair_masks found: valid and edge pairs, and whether the edge
// entries are handled densely (then `edges` is not listed).
struct PairCounts {
  int64_t valid = 0, edges = 0;
  bool dense = false;
};

// Validity (0/1) of the pairs (i, i + off) of size s and ring offset
// (dy, dx) for the centres of rows [y0, y1) of a window, flat, and, unless
// they are handled densely for `channels` classes, the flat indices (from
// (y0, 0)) of its edge pairs.
template <typename T>
PairCounts pair_masks(const Window<T>& win, int64_t y0, int64_t y1, int dy,
                      int dx, int64_t s, int64_t channels, T* valid,
                      std::vector<uint8_t>& flags,
                      std::vector<int32_t>& edges) {
  const int64_t w = win.w, off = (dy * w + dx) * s;
  const int64_t reach = (dx < 0 ? -dx : dx) * s;
  const int32_t* a = win.label(y0);
  const int64_t pixels = (y1 - y0) * w;
  PairCounts found;
  std::fill(valid, valid + pixels, T(0));
  flags.assign(pixels + 8, 0);
  edges.clear();
  if (w <= 2 * reach) return found;
  int64_t counts[2] = {0, 0};
  for (int64_t row = 0; row < pixels; row += w) {
    pair_flags(valid + row + reach, flags.data() + row + reach,
               a + row + reach, off, w - 2 * reach, counts);
  }
  found.valid = counts[0];
  found.edges = counts[1];
  found.dense = dense_edges(found.edges, pixels, channels);
  if (found.dense || found.edges == 0) return found;
  // Edge pairs are few: skip eight flags at a time.
  for (int64_t x = 0; x < pixels; x += 8) {
    uint64_t word;
    std::memcpy(&word, flags.data() + x, 8);
    if (word == 0) continue;
    for (int64_t i = x; i < std::min(x + 8, pixels); ++i) {
      if (flags[i]) edges.push_back(static_cast<int32_t>(i));
    }
  }
  return found;
}

// The exact divergence of channel ch of the pair (i, i + off), i flat from
// (y, 0): p at the neighbour, r at the centre.
template <typename T>
inline T pair_divergence(Window<T>& win, int64_t ch, int64_t y, int64_t i,
                         int64_t off) {
  const T* q = win.plane(0, ch, y);
  const T* qb = win.plane(1, ch, y);
  const T* lq = win.plane(2, ch, y);
  const T* lqb = win.plane(3, ch, y);
  return q[i + off] * (lq[i + off] - lq[i]) +
         qb[i + off] * (lqb[i + off] - lqb[i]);
}

template <typename T>
void forward_kernel(const at::Tensor& probs, const at::Tensor& labels32,
                    const std::vector<int64_t>& halves, T margin,
                    const Geometry& g, at::Tensor& edge_out,
                    at::Tensor& nonedge_out, at::Tensor& edge_count,
                    at::Tensor& nonedge_count) {
  const int32_t* lab = labels32.data_ptr<int32_t>();
  const int64_t bpi = g.blocks_per_image();
  const int64_t blocks = g.n * bpi;
  const int64_t ck = g.c * g.k;
  // Per block: edge and non-edge sums per (class, size) in double, and
  // valid and edge pair counts per size.
  std::vector<double> sums(blocks * 2 * ck, 0.0);
  std::vector<int64_t> counts(blocks * 2 * g.k, 0);

  at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
    Window<T> win;
    std::vector<T> valid, dot, edge_px, nonedge_px;
    std::vector<int32_t> edges;
    std::vector<uint8_t> flags;
    for (int64_t b = first; b < last; ++b) {
      const int64_t n = b / bpi;
      const int64_t y0 = (b % bpi) * g.block_rows;
      const int64_t y1 = std::min(g.h, y0 + g.block_rows);
      const int64_t pixels = (y1 - y0) * g.w;
      win.fill(probs, lab, g, n, std::max<int64_t>(0, y0 - g.reach),
               std::min(g.h, y1 + g.reach));
      valid.resize(pixels);
      dot.resize(pixels);
      edge_px.assign(g.k * pixels, T(0));
      nonedge_px.assign(g.k * pixels, T(0));
      double* e_sum = sums.data() + b * 2 * ck;
      double* ne_sum = e_sum + ck;
      int64_t* pairs = counts.data() + b * 2 * g.k;
      int64_t* edge_pairs = pairs + g.k;
      const int32_t* a = win.label(y0);
      for (const auto k : c10::irange(g.k)) {
        const int64_t s = halves[k];
        T* e_px = edge_px.data() + k * pixels;
        T* ne_px = nonedge_px.data() + k * pixels;
        for (const auto& d : kRing) {
          const int64_t off = (d[0] * g.w + d[1]) * s;
          const PairCounts found = pair_masks(win, y0, y1, d[0], d[1], s, g.c,
                                              valid.data(), flags, edges);
          if (found.valid == 0) continue;
          pairs[k] += found.valid;
          edge_pairs[k] += found.edges;
          if (found.dense) {
            for (const auto ch : c10::irange(g.c)) {
              edge_entries_forward(
                  ne_px, e_px, valid.data(), a, off, static_cast<int32_t>(ch),
                  win.plane(0, ch, y0), win.plane(1, ch, y0),
                  win.plane(2, ch, y0), win.plane(3, ch, y0), margin, pixels);
            }
            continue;
          }
          for (const auto ch : c10::irange(g.c)) {
            dot2(dot.data(), win.plane(0, ch, y0) + off, win.plane(2, ch, y0),
                 win.plane(1, ch, y0) + off, win.plane(3, ch, y0), pixels,
                 ch > 0);
          }
          add_masked_difference(ne_px, valid.data(), win.entropy(y0) + off,
                                dot.data(), pixels);
          for (const int32_t i : edges) {
            for (const int32_t ch : {a[i], a[i + off]}) {
              const T kl = pair_divergence(win, ch, y0, i, off);
              const T hinge = margin - kl;
              ne_px[i] -= kl;
              e_px[i] += hinge > T(0) ? hinge : T(0);
            }
          }
        }
      }
      // A centre's sums go to its class; the per-class size weights are
      // applied outside the kernel (and so differentiated by autograd).
      for (int64_t i = 0; i < pixels; ++i) {
        if (a[i] < 0) continue;
        for (const auto k : c10::irange(g.k)) {
          e_sum[a[i] * g.k + k] += edge_px[k * pixels + i];
          ne_sum[a[i] * g.k + k] += nonedge_px[k * pixels + i];
        }
      }
    }
  });

  std::vector<double> e_total(ck, 0.0), ne_total(ck, 0.0);
  std::vector<int64_t> pair_total(g.k, 0), edge_total(g.k, 0);
  for (const auto b : c10::irange(blocks)) {
    const double* e_sum = sums.data() + b * 2 * ck;
    for (const auto i : c10::irange(ck)) {
      e_total[i] += e_sum[i];
      ne_total[i] += e_sum[ck + i];
    }
    for (const auto k : c10::irange(g.k)) {
      pair_total[k] += counts[b * 2 * g.k + k];
      edge_total[k] += counts[b * 2 * g.k + g.k + k];
    }
  }
  T* eo = edge_out.data_ptr<T>();
  T* no = nonedge_out.data_ptr<T>();
  for (const auto i : c10::irange(ck)) {
    eo[i] = static_cast<T>(e_total[i]);
    no[i] = static_cast<T>(ne_total[i]);
  }
  T* ec = edge_count.data_ptr<T>();
  T* nc = nonedge_count.data_ptr<T>();
  for (const auto k : c10::irange(g.k)) {
    // Two edge entries (the two label channels) per edge pair.
    ec[k] = static_cast<T>(2 * edge_total[k]);
    nc[k] = static_cast<T>(g.c * pair_total[k] - 2 * edge_total[k]);
  }
}

template <typename T>
void backward_kernel(const at::Tensor& grad_edge, const at::Tensor& grad_ne,
                     const at::Tensor& probs, const at::Tensor& labels32,
                     const std::vector<int64_t>& halves, T margin,
                     const Geometry& g, at::Tensor& grad_probs) {
  const T* p = probs.data_ptr<T>();
  const int32_t* lab = labels32.data_ptr<int32_t>();
  const T* ge = grad_edge.data_ptr<T>();
  const T* gn = grad_ne.data_ptr<T>();
  T* out = grad_probs.data_ptr<T>();
  const T floor_p = static_cast<T>(kProbFloor);
  const T ceil_p = static_cast<T>(kProbCeil);
  const int64_t bpi = g.blocks_per_image();
  const int64_t blocks = g.n * bpi;
  const int64_t kd_count = g.k * 8;

  at::parallel_for(0, blocks, 1, [&](int64_t first, int64_t last) {
    Window<T> win;
    // Over the window, flat and padded with zeros like its planes: per
    // (size, offset) the validity of each centre's pair, and per size the
    // gradient of one non-edge (cn) and one edge (ce) entry of each centre
    // (its class's), with the edge pairs of the window's centres.
    std::vector<T> valid, cn, ce;
    std::vector<std::vector<int32_t>> edges(kd_count);
    std::vector<char> dense(kd_count);
    std::vector<uint8_t> flags;
    std::vector<T> neighbour_weight;
    // Per channel: as centre, sum coef * q_j and coef * (1 - q)_j; as
    // neighbour, sum coef * log r_i and coef * log(1 - r)_i.
    std::vector<T> acc;
    for (int64_t b = first; b < last; ++b) {
      const int64_t n = b / bpi;
      const int64_t y0 = (b % bpi) * g.block_rows;
      const int64_t y1 = std::min(g.h, y0 + g.block_rows);
      const int64_t r0 = std::max<int64_t>(0, y0 - g.reach);
      const int64_t r1 = std::min(g.h, y1 + g.reach);
      win.fill(probs, lab, g, n, r0, r1);
      const int64_t pixels = (y1 - y0) * g.w;
      // Window pixels from (r0, 0), and where the block starts in them.
      const int64_t span = (r1 - r0) * g.w, start = (y0 - r0) * g.w;
      const int64_t stride = win.stride, pad = win.pad;
      valid.assign(kd_count * stride, T(0));
      cn.assign(g.k * stride, T(0));
      ce.assign(g.k * stride, T(0));
      const int32_t* a = win.label(r0);
      for (const auto k : c10::irange(g.k)) {
        T* cn_k = cn.data() + k * stride + pad;
        T* ce_k = ce.data() + k * stride + pad;
        for (int64_t i = 0; i < span; ++i) {
          if (a[i] < 0) continue;
          cn_k[i] = gn[a[i] * g.k + k];
          ce_k[i] = ge[a[i] * g.k + k];
        }
        for (const auto d : c10::irange(8)) {
          dense[k * 8 + d] =
              pair_masks(win, r0, r1, kRing[d][0], kRing[d][1], halves[k],
                         g.c, valid.data() + (k * 8 + d) * stride + pad,
                         flags, edges[k * 8 + d])
                  .dense;
        }
      }
      acc.assign(4 * g.c * pixels, T(0));
      neighbour_weight.assign(pixels, T(0));
      T* as_q = acc.data();
      T* as_qb = as_q + g.c * pixels;
      T* as_lr = as_qb + g.c * pixels;
      T* as_lrb = as_lr + g.c * pixels;
      const int32_t* a0 = win.label(y0);
      for (const auto k : c10::irange(g.k)) {
        const int64_t s = halves[k];
        const T* cn_k = cn.data() + k * stride + pad + start;
        const T* ce_k = ce.data() + k * stride + pad + start;
        for (const auto d : c10::irange(8)) {
          const int64_t off = (kRing[d][0] * g.w + kRing[d][1]) * s;
          // The block's pixels as centres (x, x + off), and as neighbours
          // (x - off, x): the same arrays, read off pixels back.
          const T* v = valid.data() + (k * 8 + d) * stride + pad + start;
          if (dense[k * 8 + d]) {
            // Many edge entries for the classes: every entry of every
            // channel with its own coefficient, branch free.
            for (const auto ch : c10::irange(g.c)) {
              const int32_t c32 = static_cast<int32_t>(ch);
              const T* q = win.plane(0, ch, y0);
              const T* qb = win.plane(1, ch, y0);
              const T* lq = win.plane(2, ch, y0);
              const T* lqb = win.plane(3, ch, y0);
              entries_centre(as_q + ch * pixels, as_qb + ch * pixels, v, cn_k,
                             ce_k, a0, off, c32, q, qb, lq, lqb, margin,
                             pixels);
              entries_neighbour(as_lr + ch * pixels, as_lrb + ch * pixels, v,
                                cn_k, ce_k, a0, off, c32, q, qb, lq, lqb,
                                margin, pixels);
            }
            continue;
          }
          // Few: every entry as non-edge (one multiply-add pair per channel
          // and role), then the edge entries corrected one by one.
          add_product(neighbour_weight.data(), v - off, cn_k - off, pixels);
          for (const auto ch : c10::irange(g.c)) {
            axpy2(as_q + ch * pixels, as_qb + ch * pixels, v, cn_k,
                  win.plane(0, ch, y0) + off, win.plane(1, ch, y0) + off,
                  pixels);
            axpy2(as_lr + ch * pixels, as_lrb + ch * pixels, v - off,
                  cn_k - off, win.plane(2, ch, y0) - off,
                  win.plane(3, ch, y0) - off, pixels);
          }
          // Edge entries: their channels leave the non-edge sum and,
          // inside the margin, lower the hinge.
          const auto& pair_list = edges[k * 8 + d];
          for (const int32_t e : pair_list) {
            // e is a centre, flat from (r0, 0); i from (y0, 0).
            const int64_t i = e - start;
            const bool centre_in = i >= 0 && i < pixels;
            const bool neighbour_in = i + off >= 0 && i + off < pixels;
            if (!centre_in && !neighbour_in) continue;
            for (const int32_t ch : {a[e], a[e + off]}) {
              const T kl = pair_divergence(win, ch, y0, i, off);
              const T gc = -(gn[a[e] * g.k + k] +
                             (kl < margin ? ge[a[e] * g.k + k] : T(0)));
              if (centre_in) {
                as_q[ch * pixels + i] += gc * win.plane(0, ch, y0)[i + off];
                as_qb[ch * pixels + i] += gc * win.plane(1, ch, y0)[i + off];
              }
              if (neighbour_in) {
                const int64_t j = i + off;
                as_lr[ch * pixels + j] -=
                    gc * (win.plane(2, ch, y0)[j] - win.plane(2, ch, y0)[i] +
                          T(1));
                as_lrb[ch * pixels + j] -=
                    gc * (win.plane(3, ch, y0)[j] - win.plane(3, ch, y0)[i] +
                          T(1));
              }
            }
          }
        }
      }
      // Chain through the logs and the clamps: p enters through q and,
      // with the opposite sign, through 1 - p.
      const T* wt = neighbour_weight.data();
      for (const auto ch : c10::irange(g.c)) {
        const T* src = p + ((n * g.c + ch) * g.h + y0) * g.w;
        T* dst = out + ((n * g.c + ch) * g.h + y0) * g.w;
        const T* q = win.plane(0, ch, y0);
        const T* qb = win.plane(1, ch, y0);
        const T* lq = win.plane(2, ch, y0);
        const T* lqb = win.plane(3, ch, y0);
        const T* sq = as_q + ch * pixels;
        const T* sqb = as_qb + ch * pixels;
        const T* slr = as_lr + ch * pixels;
        const T* slrb = as_lrb + ch * pixels;
        for (int64_t x = 0; x < pixels; ++x) {
          const T pv = src[x], cv = T(1) - pv;
          const T pass_p = (pv >= floor_p) & (pv <= ceil_p) ? T(1) : T(0);
          const T pass_c = (cv >= floor_p) & (cv <= ceil_p) ? T(1) : T(0);
          dst[x] = pass_p * (wt[x] * (lq[x] + T(1)) - slr[x] - sq[x] / q[x]) -
                   pass_c *
                       (wt[x] * (lqb[x] + T(1)) - slrb[x] - sqb[x] / qb[x]);
        }
      }
    }
  });
}

std::vector<int64_t> as_vector(at::IntArrayRef half_sizes) {
  return std::vector<int64_t>(half_sizes.begin(), half_sizes.end());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> forward_cpu(
    const at::Tensor& probs_in, const at::Tensor& labels,
    at::IntArrayRef half_sizes, double margin) {
  const Geometry g = check_inputs(probs_in, labels, half_sizes);
  const at::Tensor probs = probs_in.detach().contiguous();
  const at::Tensor labels32 = labels.to(at::kInt).contiguous();
  auto options = probs.options();
  at::Tensor edge = at::empty({g.c, g.k}, options);
  at::Tensor nonedge = at::empty({g.c, g.k}, options);
  at::Tensor edge_count = at::empty({g.k}, options);
  at::Tensor nonedge_count = at::empty({g.k}, options);
  AT_DISPATCH_FLOATING_TYPES(probs.scalar_type(), "affinity_field_forward",
                             [&] {
                               forward_kernel<scalar_t>(
                                   probs, labels32, as_vector(half_sizes),
                                   static_cast<scalar_t>(margin), g, edge,
                                   nonedge, edge_count, nonedge_count);
                             });
  return {edge, nonedge, edge_count, nonedge_count};
}

at::Tensor backward_cpu(const at::Tensor& grad_edge,
                        const at::Tensor& grad_nonedge,
                        const at::Tensor& probs_in, const at::Tensor& labels,
                        at::IntArrayRef half_sizes, double margin) {
  const Geometry g = check_inputs(probs_in, labels, half_sizes);
  TORCH_CHECK(grad_edge.dim() == 2 && grad_edge.size(0) == g.c &&
                  grad_edge.size(1) == g.k &&
                  grad_nonedge.sizes() == grad_edge.sizes(),
              "affinity_field_backward: gradients must be (C, K)");
  const at::Tensor probs = probs_in.detach().contiguous();
  const at::Tensor labels32 = labels.to(at::kInt).contiguous();
  const at::Tensor ge = grad_edge.to(probs.scalar_type()).contiguous();
  const at::Tensor gn = grad_nonedge.to(probs.scalar_type()).contiguous();
  at::Tensor grad = at::empty(probs.sizes(), probs.options());
  AT_DISPATCH_FLOATING_TYPES(probs.scalar_type(), "affinity_field_backward",
                             [&] {
                               backward_kernel<scalar_t>(
                                   ge, gn, probs, labels32,
                                   as_vector(half_sizes),
                                   static_cast<scalar_t>(margin), g, grad);
                             });
  return grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(mmseg_aaf, CPU, m) {
  m.impl("affinity_field_forward", &forward_cpu);
  m.impl("affinity_field_backward", &backward_cpu);
}

}  // namespace mmseg_aaf

// A Python module with nothing in it: importing it runs the registration
// above (the schemas are defined in Python beforehand).
extern "C" PyMODINIT_FUNC PyInit__affinity_field_cpu(void) {
  static PyModuleDef module = {PyModuleDef_HEAD_INIT, "_affinity_field_cpu",
                               nullptr, -1, nullptr};
  return PyModule_Create(&module);
}
