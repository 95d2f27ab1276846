// The native backend's shim: tfjs kernels on ATen (libtorch), called from Deno through FFI.
//
// Interface (extern "C", every call on the JS thread):
// - Arguments go in one double buffer passed with each call: tensor handles (pointers, exact in a
//   double below 2^53), integers and floats, read in order by each op. Outputs (new handles and their
//   shapes) come back in a second buffer. An op is looked up once by name (asap_op_code) and run by
//   code (asap_run). Handles cross the FFI as u64, so no pointer API (which needs unscoped
//   --allow-ffi) is used on the JS side.
// - A tensor argument is: handle, rank, dims. Every tensor the shim returns is contiguous in tfjs'
//   row-major order, so the same storage serves any shape of the same size (tfjs' Reshape).
// - Images are NHWC in tfjs; ATen sees them as NCHW views with channels_last strides (permute), so no
//   transposes are made and results come back in NHWC memory order.
// - Errors: C++ exceptions are caught; asap_run returns -1 and asap_last_error() says what failed.
// - Device: asap_write takes a device (0 CPU, 1 CUDA); ops allocate on their inputs' device, so a
//   CUDA build of this same file (linked with torch_cuda) runs every op on the GPU.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>  // mallopt (the evaluation network's block below)
#endif

namespace {

// Per thread: Deno may run several isolates (e.g. test modules) on different threads of one process.
thread_local const double* args = nullptr;  // the current call's arguments
thread_local double* outs = nullptr;        // the current call's outputs (256 doubles)
thread_local std::string last_error;
std::atomic<int64_t> live{0};  // handles alive in the process (tests check their accounting against it)

at::ScalarType dtype_of(int64_t code) {
  switch (code) {
    case 0: return at::kFloat;
    case 1: return at::kInt;
    case 2: return at::kBool;
  }
  throw std::runtime_error("unknown dtype code " + std::to_string(code));
}

at::Tensor* handle(const at::Tensor& t) {
  live++;
  return new at::Tensor(t);
}

/** Reads the arguments of one op, in order. */
struct Args {
  int i = 0;
  int64_t n() { return static_cast<int64_t>(args[i++]); }
  double f() { return args[i++]; }
  bool b() { return args[i++] != 0; }
  std::vector<int64_t> list() {
    int64_t k = n();
    std::vector<int64_t> v(k);
    for (int64_t j = 0; j < k; j++) v[j] = n();
    return v;
  }
  /** A tensor: handle, then the tfjs shape it is read as (same size, contiguous storage). */
  at::Tensor t() {
    auto* h = reinterpret_cast<at::Tensor*>(static_cast<uintptr_t>(args[i++]));
    auto shape = list();
    if (h->sizes().equals(shape)) return *h;
    return h->view(shape);
  }
  std::vector<at::Tensor> tensors() {
    int64_t k = n();
    std::vector<at::Tensor> v;
    v.reserve(k);
    for (int64_t j = 0; j < k; j++) v.push_back(t());
    return v;
  }
};

/**
 * Writes outputs, contiguous and cast to the dtype tfjs expects (the op's first argument): for each,
 * its handle, rank and dims.
 */
struct Out {
  at::ScalarType dtype;
  int count = 0;
  int at = 0;
  void put(at::Tensor r) {
    if (r.scalar_type() != dtype) r = r.to(dtype);
    r = r.contiguous();
    // A view into a larger storage (a leading-axis Slice, SplitV, Unpack) would keep all of it alive
    // for as long as tfjs holds the result: copy what it shows.
    if (r.storage().nbytes() > r.nbytes()) r = r.clone();
    if (at + 2 + r.dim() > 256) throw std::runtime_error("too many outputs");
    outs[at++] = static_cast<double>(reinterpret_cast<uintptr_t>(handle(r)));
    outs[at++] = static_cast<double>(r.dim());
    for (auto s : r.sizes()) outs[at++] = static_cast<double>(s);
    count++;
  }
};

using Op = std::function<void(Args&, Out&)>;

// Defined in the block at the end of this file (gaps closed after the first version).
bool nonfinite(const at::Tensor& t);
std::pair<at::Tensor, at::Tensor> tf_max_pool(const at::Tensor& x, std::vector<int64_t> k, std::vector<int64_t> s,
                                              int64_t top, int64_t left, int64_t ho, int64_t wo);
at::Tensor tf_max_pool_grad(const at::Tensor& dy, const at::Tensor& idx, int64_t h, int64_t w);
void add_gap_ops(std::unordered_map<std::string, Op>& m);
void sgd_update_aten(const at::Tensor& w, const at::Tensor& g, const at::Tensor& buf, const at::Tensor& scale,
                     float lr, float m, float decay, bool nesterov, Out& o);

/** A float32 matrix [rows, cols] as a channels-last 1×1 image [1, cols, rows, 1] (a view, no copy). */
at::Tensor as_pixels(const at::Tensor& m) {
  return m.view({1, m.size(0), 1, m.size(1)}).permute({0, 3, 1, 2});
}

/**
 * Float32 products of many rows — the 1×1 convolutions' [N·H·W, C]×[C, C'] and their weight gradients
 * [N·H·W, C]ᵀ×[N·H·W, C'] — as oneDNN 1×1 convolutions. On the 2-core machine, 2 threads (µs, oneDNN against
 * OpenBLAS sgemm, forward): [32768,108]×[108,36] 1,200 vs 3,700, [8192,144]×[144,72] 630 vs 1,890,
 * [2048,576]×[576,144] 1,080 vs 2,360, [1024,64]×[64,64] 92 vs 133; but oneDNN costs ~30 µs a call whatever the
 * size, so [2048,16]×[16,16] (56 vs 42) and [256,256]×[256,256] (270 vs 270) stay with BLAS. Undefined when the
 * product is not of that kind: below 512 rows or 2^22 multiply-adds.
 */
at::Tensor pointwise_product(const at::Tensor& x, const at::Tensor& y, bool ta, bool tb) {
  constexpr int64_t kMinRows = 512, kMinWork = int64_t{1} << 22;  // measured crossovers on the 2-core machine
  if (!at::hasMKLDNN() || !x.device().is_cpu() || x.scalar_type() != at::kFloat || y.scalar_type() != at::kFloat ||
      !x.is_contiguous() || x.size(0) < kMinRows)
    return at::Tensor();
  if (!ta) {  // x [M, J] · q [J, K]: a 1×1 convolution of the pixels x by the filter qᵀ
    at::Tensor q = tb ? y : y.t();  // qᵀ, [K, J]
    if (x.size(0) * x.size(1) * q.size(0) < kMinWork) return at::Tensor();
    at::Tensor w = q.contiguous().view({q.size(0), q.size(1), 1, 1});
    at::Tensor r = at::mkldnn_convolution(as_pixels(x), w, {}, {0, 0}, {1, 1}, {1, 1}, 1);
    return r.permute({0, 2, 3, 1}).reshape({x.size(0), q.size(0)});
  }
  if (tb || !y.is_contiguous() || y.size(0) != x.size(0) || x.size(0) * x.size(1) * y.size(1) < kMinWork)
    return at::Tensor();
  // xᵀ [J, M] · y [M, K]: the filter gradient of that convolution (pixels x, output gradient y)
  at::Tensor w = at::empty({y.size(1), x.size(1), 1, 1}, x.options());  // only its shape is read
  auto grads = at::convolution_backward(as_pixels(y), as_pixels(x), w, c10::nullopt, {1, 1}, {0, 0}, {1, 1},
                                        false, {0, 0}, 1, {false, true, false});
  return std::get<1>(grads).view({y.size(1), x.size(1)}).t();
}

/** One product of matrices with tfjs's transpose flags. */
at::Tensor matmul2d(const at::Tensor& x, const at::Tensor& y, bool ta, bool tb) {
  at::Tensor r = pointwise_product(x, y, ta, tb);
  return r.defined() ? r : at::mm(ta ? x.t() : x, tb ? y.t() : y);
}

at::Tensor nchw(const at::Tensor& x) { return x.permute({0, 3, 1, 2}); }
at::Tensor nhwc(const at::Tensor& x) { return x.permute({0, 2, 3, 1}); }

/** Pads [N,C,H,W] by (top, bottom, left, right) with `value` (constant_pad_nd takes the last dim first). */
at::Tensor pad_hw(const at::Tensor& x, const std::vector<int64_t>& p, double value) {
  return at::constant_pad_nd(x, {p[2], p[3], p[0], p[1]}, value);
}
bool symmetric(const std::vector<int64_t>& p) { return p[0] == p[1] && p[2] == p[3]; }

/** tfjs HWIO filter [kh, kw, Ci, Co] as ATen OIHW; depthwise [kh, kw, C, m] as [C·m, 1, kh, kw]. */
at::Tensor conv_weight(const at::Tensor& f, bool depthwise) {
  if (!depthwise) return f.permute({3, 2, 0, 1});
  return f.permute({2, 3, 0, 1}).reshape({f.size(2) * f.size(3), 1, f.size(0), f.size(1)});
}
at::Tensor tf_filter(const at::Tensor& w, const std::vector<int64_t>& shape, bool depthwise) {
  if (!depthwise) return w.permute({2, 3, 1, 0});
  return w.reshape({shape[2], shape[3], shape[0], shape[1]}).permute({2, 3, 0, 1});
}

// A depthwise convolution's filter gradient, dW[a, b, c] = Σ_{n, y, x} x[n, s·y + d·a − top, s·x + d·b − left, c]
// · dy[n, y, x, c], as loops over NHWC rows, a filter tap at a time, the channels (contiguous) eight at a time.
// ATen's CPU kernel for it is slow off its 3×3 undilated path; at [32, 32, 32, 16], 2 threads, on the 2-core
// machine (µs, this loop against ATen): 5×5 630 vs 1,880, dilated 3×3 240 vs 890, dilated 5×5 620 vs 2,000;
// at [32, 16, 16, 32] 650 vs 900, 240 vs 440, 600 vs 860; at [32, 8, 8, 64] 330 vs 420, 120 vs 250, 260
// vs 2,820. Undilated 3×3 stays with ATen (90 vs 240). Each output row is summed in float32 and the rows in
// float64, image by image, so the bits do not depend on the thread count.

/** The geometry, NHWC: input n·h·w·c, filter kh·kw, strides, dilations, top and left padding, output ho·wo. */
struct Depthwise {
  int64_t n, h, w, c, kh, kw, sh, sw, dh, dw, top, left, ho, wo;
};

/** Eight floats, loaded and stored unaligned; without AVX the compiler splits each operation in two. */
typedef float f8 __attribute__((vector_size(32), aligned(4), may_alias));

// On x86-64 a loop is compiled twice, for AVX2 and for any x86-64, and the loader picks one (ifunc).
#if defined(__x86_64__)
#define ASAP_AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define ASAP_AVX2_CLONE
#endif

/** The outputs [first, last) of a row whose input pixel, at tap offset `shift` (b·d − left), is inside the width. */
inline std::pair<int64_t, int64_t> inside(int64_t shift, int64_t stride, int64_t width, int64_t outputs) {
  auto ceil_div = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
  auto floor_div = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
  const int64_t first = std::max<int64_t>(0, ceil_div(-shift, stride));
  const int64_t last = std::min<int64_t>(outputs, floor_div(width - 1 - shift, stride) + 1);
  return {first, std::max(first, last)};
}

/**
 * The float64 sums of images [begin, end) (`pp`: kh·kw·c per image), V vectors of eight channels held in
 * registers along a row (V = 0: any channel count, one channel at a time).
 */
template <int V>
__attribute__((always_inline)) inline void depthwise_filter_v(const Depthwise g, const float* __restrict px,
                                                              const float* __restrict pd, double* __restrict pp,
                                                              int64_t begin, int64_t end) {
  const int64_t c = g.c, taps = g.kh * g.kw * c;
  std::vector<float> row(taps);
  for (int64_t ni = begin; ni < end; ni++) {
    double* part = pp + ni * taps;
    for (int64_t oy = 0; oy < g.ho; oy++) {
      std::fill(row.begin(), row.end(), 0.0f);
      const float* drow = pd + (ni * g.ho + oy) * g.wo * c;
      for (int64_t a = 0; a < g.kh; a++) {
        const int64_t iy = oy * g.sh + a * g.dh - g.top;
        if (iy < 0 || iy >= g.h) continue;
        const float* xrow = px + (ni * g.h + iy) * g.w * c;
        for (int64_t b = 0; b < g.kw; b++) {
          const int64_t shift = b * g.dw - g.left;
          auto [first, last] = inside(shift, g.sw, g.w, g.wo);
          float* sum = row.data() + (a * g.kw + b) * c;
          const int64_t step = g.sw * c;
          const float* xp = xrow + (first * g.sw + shift) * c;
          const float* dp = drow + first * c;
          if constexpr (V == 0) {
            for (int64_t ox = first; ox < last; ox++, xp += step, dp += c)
              for (int64_t ch = 0; ch < c; ch++) sum[ch] += xp[ch] * dp[ch];
          } else {
            f8 acc[V] = {};
            for (int64_t ox = first; ox < last; ox++, xp += step, dp += c)
              for (int j = 0; j < V; j++) acc[j] += reinterpret_cast<const f8*>(xp)[j] * reinterpret_cast<const f8*>(dp)[j];
            for (int j = 0; j < V; j++) reinterpret_cast<f8*>(sum)[j] = acc[j];
          }
        }
      }
      for (int64_t j = 0; j < taps; j++) part[j] += row[j];
    }
  }
}

/** depthwise_filter_v<c / 8> for 8, 16, 32 and 64 channels, else <0>. */
ASAP_AVX2_CLONE void depthwise_filter_images(const Depthwise& g, const float* px, const float* pd, double* pp,
                                             int64_t begin, int64_t end) {
  switch (g.c) {
    case 8: depthwise_filter_v<1>(g, px, pd, pp, begin, end); break;
    case 16: depthwise_filter_v<2>(g, px, pd, pp, begin, end); break;
    case 32: depthwise_filter_v<4>(g, px, pd, pp, begin, end); break;
    case 64: depthwise_filter_v<8>(g, px, pd, pp, begin, end); break;
    default: depthwise_filter_v<0>(g, px, pd, pp, begin, end);
  }
}

/** Whether the loops above take this filter gradient (float32 on the CPU, channel multiplier 1, not 3×3 undilated). */
bool loop_filter_grad(const at::Tensor& x, const at::Tensor& dy, const std::vector<int64_t>& fs,
                      const std::vector<int64_t>& dil) {
  const bool aten_fast = fs[0] == 3 && fs[1] == 3 && dil[0] == 1 && dil[1] == 1;
  return !aten_fast && fs[3] == 1 && x.device().is_cpu() && x.scalar_type() == at::kFloat &&
         dy.scalar_type() == at::kFloat && x.is_contiguous() && dy.is_contiguous();
}

/** dW as [kh, kw, c, 1]. */
at::Tensor depthwise_filter_grad(const at::Tensor& x, const at::Tensor& dy, const Depthwise& g) {
  at::Tensor partial = at::zeros({g.n, g.kh * g.kw * g.c}, x.options().dtype(at::kDouble));
  const float* px = x.data_ptr<float>();
  const float* pd = dy.data_ptr<float>();
  double* pp = partial.data_ptr<double>();
  at::parallel_for(0, g.n, 1, [&](int64_t begin, int64_t end) { depthwise_filter_images(g, px, pd, pp, begin, end); });
  return partial.sum(0).to(at::kFloat).view({g.kh, g.kw, g.c, 1});
}

// ---- Batch norm over the rows [M, C] of an NHWC feature map, on the CPU ------------------------------------
// ATen 1.13's channels-last batch norm kernels are slow unless C is a multiple of their vector width: at
// [32,32,32,36] (the DARTS_V2 evaluation network's first cells), 2 threads, 2.8 ms forward and 6.6 ms for the
// gradient, against 0.95 and 1.9 ms for four times the data at C = 144 (measured on the 2-core machine). These
// loops read the rows in memory order, two passes each: the per-channel sums, then the output. The sums are
// float64 over blocks of kBlockRows rows, the blocks added in order, so the bits do not depend on the thread
// count. Other devices, dtypes and empty inputs keep ATen's kernels.

constexpr int64_t kBlockRows = 256;

/** Whether `x` is a float32 CPU tensor with rows to normalise (the loops below apply). */
bool rows_on_cpu(const at::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == at::kFloat && x.dim() >= 1 && x.numel() > 0 && x.size(-1) > 0;
}

/** `x` as contiguous rows [M, C]. */
at::Tensor as_rows(const at::Tensor& x) { return x.contiguous().view({-1, x.size(-1)}); }

/** Adds Σ (x − k) and Σ (x − k)² over rows [r0, r1) to s and q (k: the first row, a shift that keeps the
 * one-pass variance exact in float64 for any mean). */
ASAP_AVX2_CLONE __attribute__((optimize("O3"))) void moments_block(const float* __restrict x, int64_t c, int64_t r0, int64_t r1, double* __restrict s,
                                   double* __restrict q) {
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * c;
    for (int64_t j = 0; j < c; j++) {
      const double d = static_cast<double>(xr[j]) - static_cast<double>(x[j]);
      s[j] += d;
      q[j] += d * d;
    }
  }
}

/** Adds Σ dy and Σ dy·(x − centre) over rows [r0, r1) to s and p. */
ASAP_AVX2_CLONE __attribute__((optimize("O3"))) void grad_sums_block(const float* __restrict dy, const float* __restrict x,
                                     const double* __restrict centre, int64_t c, int64_t r0, int64_t r1,
                                     double* __restrict s, double* __restrict p) {
  for (int64_t r = r0; r < r1; r++) {
    const float* gr = dy + r * c;
    const float* xr = x + r * c;
    for (int64_t j = 0; j < c; j++) {
      const double g = gr[j];
      s[j] += g;
      p[j] += g * (static_cast<double>(xr[j]) - centre[j]);
    }
  }
}

/** y = (x − centre)·scale + shift over rows [r0, r1), each step rounded to float32. */
ASAP_AVX2_CLONE __attribute__((optimize("O3"))) void normalise_block(const float* __restrict x, const float* __restrict centre,
                                     const float* __restrict scale, const float* __restrict shift, int64_t c,
                                     int64_t r0, int64_t r1, float* __restrict y) {
  for (int64_t i = r0 * c, r = r0; r < r1; r++)
    for (int64_t j = 0; j < c; j++, i++) y[i] = (x[i] - centre[j]) * scale[j] + shift[j];
}

/** dx = (dy − gm − (x − centre)·k)·w over rows [r0, r1), each step rounded to float32. */
ASAP_AVX2_CLONE __attribute__((optimize("O3"))) void grad_block(const float* __restrict dy, const float* __restrict x, const float* __restrict centre,
                                const float* __restrict gm, const float* __restrict k, const float* __restrict w,
                                int64_t c, int64_t r0, int64_t r1, float* __restrict dx) {
  for (int64_t i = r0 * c, r = r0; r < r1; r++)
    for (int64_t j = 0; j < c; j++, i++) dx[i] = (dy[i] - gm[j] - (x[i] - centre[j]) * k[j]) * w[j];
}

/** Per-channel float64 sums of `block(r0, r1, acc)` over blocks of rows, in parallel, added in block order. */
template <typename F>
std::vector<double> sum_blocks(int64_t rows, int64_t width, const F& block) {
  const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
  std::vector<double> part(static_cast<size_t>(blocks * width), 0.0);
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) block(b * kBlockRows, std::min(rows, (b + 1) * kBlockRows), part.data() + b * width);
  });
  std::vector<double> total(static_cast<size_t>(width), 0.0);
  for (int64_t b = 0; b < blocks; b++)
    for (int64_t j = 0; j < width; j++) total[j] += part[b * width + j];
  return total;
}

/** Runs `block(r0, r1)` over blocks of rows in parallel (an elementwise pass). */
template <typename F>
void for_blocks(int64_t rows, const F& block) {
  at::parallel_for(0, rows, kBlockRows, [&](int64_t r0, int64_t r1) { block(r0, r1); });
}

/** The batch mean and biased variance of rows [M, C], float64 sums rounded to float32. */
std::pair<at::Tensor, at::Tensor> row_moments(const at::Tensor& rows) {
  const int64_t m = rows.size(0), c = rows.size(1);
  const float* px = rows.data_ptr<float>();
  auto sums = sum_blocks(m, 2 * c, [&](int64_t r0, int64_t r1, double* acc) { moments_block(px, c, r0, r1, acc, acc + c); });
  at::Tensor mean = at::empty({c}, rows.options()), var = at::empty({c}, rows.options());
  float *pm = mean.data_ptr<float>(), *pv = var.data_ptr<float>();
  for (int64_t j = 0; j < c; j++) {
    const double d = sums[j] / m, v = sums[c + j] / m - d * d;
    pm[j] = static_cast<float>(px[j] + d);
    pv[j] = static_cast<float>(v < 0 ? 0.0 : v);  // a NaN stays NaN
  }
  return {mean, var};
}

/** (x − centre)·scale + shift on rows [M, C], per-channel float32 vectors, shaped as `like`. */
at::Tensor normalise_rows(const at::Tensor& rows, const at::Tensor& centre, const at::Tensor& scale,
                          const at::Tensor& shift, const at::Tensor& like) {
  const int64_t c = rows.size(1);
  at::Tensor y = at::empty(like.sizes(), rows.options());
  const float *px = rows.data_ptr<float>(), *pc = centre.data_ptr<float>(), *ps = scale.data_ptr<float>(),
              *pt = shift.data_ptr<float>();
  float* py = y.data_ptr<float>();
  for_blocks(rows.size(0), [&](int64_t r0, int64_t r1) { normalise_block(px, pc, ps, pt, c, r0, r1, py); });
  return y;
}

/** A batch norm's gradient on rows [M, C]. */
struct RowsGrad {
  at::Tensor dx;           // shaped as dy
  std::vector<double> s;   // Σ dy
  std::vector<double> p;   // Σ dy·(x − centre)
};

/**
 * dx = (dy − Σdy/M − (x − centre)·k)·w with k = Σdy·(x − centre)·kscale/M and w per channel (ATen's form of the
 * gradient): k and w from the sums by `coefficients(s, p, k, w)`, float32 vectors of C.
 */
template <typename F>
RowsGrad row_grad(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& centre, const F& coefficients) {
  at::Tensor g = as_rows(dy), xr = as_rows(x), cf = centre.contiguous();
  const int64_t m = g.size(0), c = g.size(1);
  if (xr.sizes() != g.sizes() || cf.numel() != c) throw std::runtime_error("batch norm gradient: shapes differ");
  const float *pg = g.data_ptr<float>(), *px = xr.data_ptr<float>(), *pcf = cf.data_ptr<float>();
  std::vector<double> cd(pcf, pcf + c);
  auto sums = sum_blocks(m, 2 * c, [&](int64_t r0, int64_t r1, double* acc) {
    grad_sums_block(pg, px, cd.data(), c, r0, r1, acc, acc + c);
  });
  RowsGrad r{at::empty(dy.sizes(), g.options()), {sums.begin(), sums.begin() + c}, {sums.begin() + c, sums.end()}};
  std::vector<float> gm(c), k(c), w(c);
  for (int64_t j = 0; j < c; j++) gm[j] = static_cast<float>(r.s[j] / m);
  coefficients(r, k.data(), w.data());
  float* pd = r.dx.data_ptr<float>();
  for_blocks(m, [&](int64_t r0, int64_t r1) { grad_block(pg, px, pcf, gm.data(), k.data(), w.data(), c, r0, r1, pd); });
  return r;
}

/**
 * Conv2D / DepthwiseConv2dNative and their two backprops. Reads: mode (0 forward, 1 backprop input,
 * 2 backprop filter), depthwise, stride h w, dilation h w, pads top bottom left right, then
 * forward: x, filter; input: dy, filter, x shape; filter: x, dy, filter shape.
 */
void conv(Args& a, Out& o) {
  int64_t mode = a.n();
  bool dw = a.b();
  std::vector<int64_t> stride{a.n(), a.n()}, dil{a.n(), a.n()};
  std::vector<int64_t> p{a.n(), a.n(), a.n(), a.n()};
  bool sym = symmetric(p);
  std::vector<int64_t> pad = sym ? std::vector<int64_t>{p[0], p[2]} : std::vector<int64_t>{0, 0};
  if (mode == 0) {
    at::Tensor x = nchw(a.t()), f = a.t();
    at::Tensor w = conv_weight(f, dw);
    if (!sym) x = pad_hw(x, p, 0);
    int64_t groups = dw ? x.size(1) : 1;
    o.put(nhwc(at::convolution(x, w, {}, stride, pad, dil, false, {0, 0}, groups)));
    return;
  }
  if (mode == 1) {
    at::Tensor dy = nchw(a.t()), f = a.t();
    auto xs = a.list();  // NHWC
    at::Tensor w = conv_weight(f, dw);
    int64_t groups = dw ? xs[3] : 1;
    std::vector<int64_t> in{xs[0], xs[3], xs[1] + (sym ? 0 : p[0] + p[1]), xs[2] + (sym ? 0 : p[2] + p[3])};
    at::Tensor x = at::empty(in, dy.options().memory_format(at::MemoryFormat::ChannelsLast));
    auto r = at::convolution_backward(dy, x, w, c10::nullopt, stride, pad, dil, false, {0, 0}, groups,
                                      {true, false, false});
    at::Tensor dx = std::get<0>(r);
    if (!sym) dx = dx.narrow(2, p[0], xs[1]).narrow(3, p[2], xs[2]);
    o.put(nhwc(dx));
    return;
  }
  at::Tensor xt = a.t(), dyt = a.t();
  auto fs = a.list();
  if (dw && loop_filter_grad(xt, dyt, fs, dil)) {
    const Depthwise g{xt.size(0), xt.size(1), xt.size(2), xt.size(3), fs[0], fs[1], stride[0], stride[1],
                      dil[0], dil[1], p[0], p[2], dyt.size(1), dyt.size(2)};
    o.put(depthwise_filter_grad(xt, dyt, g));
    return;
  }
  at::Tensor x = nchw(xt), dy = nchw(dyt);
  if (!sym) x = pad_hw(x, p, 0);
  int64_t groups = dw ? x.size(1) : 1;
  std::vector<int64_t> ws = dw ? std::vector<int64_t>{fs[2] * fs[3], 1, fs[0], fs[1]}
                               : std::vector<int64_t>{fs[3], fs[2], fs[0], fs[1]};
  at::Tensor w = at::empty(ws, x.options());
  auto r = at::convolution_backward(dy, x, w, c10::nullopt, stride, pad, dil, false, {0, 0}, groups,
                                    {false, true, false});
  o.put(tf_filter(std::get<1>(r), fs, dw));
}

/**
 * MaxPool, AvgPool and their gradients. Reads: mode (0 max, 1 avg, 2 max grad, 3 avg grad), kernel h
 * w, stride h w, pads top bottom left right, then x (forward), or dy, x (grads).
 * Average pooling excludes the padding from the count (as tfjs' forward); its gradient divides by the
 * window size everywhere (as tfjs' AvgPoolGrad on every backend).
 */
void pool(Args& a, Out& o) {
  int64_t mode = a.n();
  std::vector<int64_t> k{a.n(), a.n()}, s{a.n(), a.n()};
  std::vector<int64_t> p{a.n(), a.n(), a.n(), a.n()};
  bool sym = symmetric(p);
  std::vector<int64_t> pad = sym ? std::vector<int64_t>{p[0], p[2]} : std::vector<int64_t>{0, 0};
  double neg_inf = -std::numeric_limits<double>::infinity();
  if (mode == 0 || mode == 1) {
    at::Tensor x = nchw(a.t());
    if (mode == 0) {
      at::Tensor input = x;
      if (!sym) x = pad_hw(x, p, neg_inf);
      at::Tensor y = nhwc(at::max_pool2d(x, k, s, pad));
      // ATen's maximum is NaN when the window holds one; tfjs skips NaNs: redo such outputs its way.
      if (nonfinite(y)) y = tf_max_pool(nhwc(input), k, s, p[0], p[2], y.size(1), y.size(2)).first;
      o.put(y);
      return;
    }
    if (sym) {
      o.put(nhwc(at::avg_pool2d(x, k, s, pad, false, false)));
      return;
    }
    at::Tensor sum = at::avg_pool2d(pad_hw(x, p, 0), k, s, {0, 0}, false, true, 1);
    at::Tensor ones = at::ones({1, 1, x.size(2), x.size(3)}, x.options());
    at::Tensor count = at::avg_pool2d(pad_hw(ones, p, 0), k, s, {0, 0}, false, true, 1);
    o.put(nhwc(sum / count));
    return;
  }
  at::Tensor dy = nchw(a.t()), x = nchw(a.t());
  int64_t h = x.size(2), w = x.size(3);
  if (mode == 2) {
    if (nonfinite(x)) {  // tfjs' maxima: NaNs skipped, a window of no number passes no gradient
      auto idx = tf_max_pool(nhwc(x), k, s, p[0], p[2], dy.size(2), dy.size(3)).second;
      o.put(tf_max_pool_grad(nhwc(dy), idx, h, w));
      return;
    }
    if (!sym) x = pad_hw(x, p, neg_inf);
    auto [y, idx] = at::max_pool2d_with_indices(x, k, s, pad);
    at::Tensor dx = at::max_pool2d_with_indices_backward(dy, x, k, s, pad, {1, 1}, false, idx);
    if (!sym) dx = dx.narrow(2, p[0], h).narrow(3, p[2], w);
    o.put(nhwc(dx));
    return;
  }
  if (!sym) x = pad_hw(x, p, 0);
  at::Tensor dx = at::avg_pool2d_backward(dy, x, k, s, pad, false, true, c10::nullopt);
  if (!sym) dx = dx.narrow(2, p[0], h).narrow(3, p[2], w);
  o.put(nhwc(dx));
}

/** Reduction axes and keepDims: reads axes list, keepDims. */
void reduce(Args& a, Out& o, int which) {
  at::Tensor x = a.t();
  auto axes = a.list();
  bool keep = a.b();
  if (x.dim() == 0) {
    o.put(x.clone());
    return;
  }
  switch (which) {
    case 0: o.put(at::sum(x, axes, keep, o.dtype == at::kBool ? at::kInt : o.dtype)); return;
    case 1: o.put(at::mean(x.to(at::kFloat), axes, keep)); return;
    case 2: o.put(at::amax(x, axes, keep)); return;
    case 3: o.put(at::amin(x, axes, keep)); return;
    case 4: {
      at::Tensor r = x;
      for (auto it = axes.rbegin(); it != axes.rend(); ++it) r = at::prod(r, *it, keep);
      o.put(r);
      return;
    }
    case 5: {
      at::Tensor r = x.to(at::kBool);
      for (auto it = axes.rbegin(); it != axes.rend(); ++it) r = at::any(r, *it, keep);
      o.put(r);
      return;
    }
    case 6: {
      at::Tensor r = x.to(at::kBool);
      for (auto it = axes.rbegin(); it != axes.rend(); ++it) r = at::all(r, *it, keep);
      o.put(r);
      return;
    }
  }
}

/** Cumsum / Cumprod: x, axis, exclusive, reverse (tfjs' semantics). */
void cumulative(Args& a, Out& o, bool product) {
  at::Tensor x = a.t();
  int64_t axis = a.n();
  bool exclusive = a.b(), reverse = a.b();
  if (reverse) x = at::flip(x, {axis});
  at::Tensor r = product ? at::cumprod(x, axis) : at::cumsum(x, axis);
  if (r.scalar_type() != x.scalar_type()) r = r.to(x.scalar_type());
  if (exclusive) {
    // Shift by one along the axis, the identity (0 or 1) first.
    at::Tensor first = product ? at::ones_like(x.narrow(axis, 0, 1)) : at::zeros_like(x.narrow(axis, 0, 1));
    r = at::cat({first, r.narrow(axis, 0, x.size(axis) - 1)}, axis);
  }
  if (reverse) r = at::flip(r, {axis});
  o.put(r);
}

std::unordered_map<std::string, Op> make_ops() {
  std::unordered_map<std::string, Op> m;
  auto unary = [&](const char* name, std::function<at::Tensor(const at::Tensor&)> f) {
    m[name] = [f](Args& a, Out& o) { o.put(f(a.t())); };
  };
  auto binary = [&](const char* name, std::function<at::Tensor(const at::Tensor&, const at::Tensor&)> f) {
    m[name] = [f](Args& a, Out& o) {
      at::Tensor x = a.t();
      o.put(f(x, a.t()));
    };
  };
  auto fl = [](const at::Tensor& x) { return x.is_floating_point() ? x : x.to(at::kFloat); };
  unary("Abs", [](auto& x) { return at::abs(x); });
  unary("Acos", [=](auto& x) { return at::acos(fl(x)); });
  unary("Asin", [=](auto& x) { return at::asin(fl(x)); });
  unary("Atan", [=](auto& x) { return at::atan(fl(x)); });
  unary("Ceil", [](auto& x) { return at::ceil(x); });
  unary("Cos", [=](auto& x) { return at::cos(fl(x)); });
  unary("Cosh", [=](auto& x) { return at::cosh(fl(x)); });
  unary("Erf", [=](auto& x) { return at::erf(fl(x)); });
  unary("Exp", [=](auto& x) { return at::exp(fl(x)); });
  unary("Expm1", [=](auto& x) { return at::expm1(fl(x)); });
  unary("Floor", [](auto& x) { return at::floor(x); });
  unary("IsFinite", [](auto& x) { return at::isfinite(x); });
  unary("IsInf", [](auto& x) { return at::isinf(x); });
  unary("IsNan", [](auto& x) { return at::isnan(x); });
  unary("Log", [=](auto& x) { return at::log(fl(x)); });
  unary("Log1p", [=](auto& x) { return at::log1p(fl(x)); });
  unary("LogicalNot", [](auto& x) { return at::logical_not(x); });
  unary("Neg", [](auto& x) { return at::neg(x); });
  unary("Reciprocal", [=](auto& x) { return at::reciprocal(fl(x)); });
  unary("Relu", [](auto& x) { return at::relu(x); });
  unary("Relu6", [](auto& x) { return at::clamp(x, 0, 6); });
  unary("Round", [](auto& x) { return at::round(x); });
  unary("Rsqrt", [=](auto& x) { return at::rsqrt(fl(x)); });
  unary("Selu", [=](auto& x) { return at::selu(fl(x)); });
  unary("Sigmoid", [=](auto& x) { return at::sigmoid(fl(x)); });
  unary("Sign", [](auto& x) { return at::sign(x); });
  unary("Sin", [=](auto& x) { return at::sin(fl(x)); });
  unary("Sinh", [=](auto& x) { return at::sinh(fl(x)); });
  unary("Softplus", [=](auto& x) { return at::softplus(fl(x)); });
  unary("Sqrt", [=](auto& x) { return at::sqrt(fl(x)); });
  unary("Square", [](auto& x) { return x * x; });
  unary("Tan", [=](auto& x) { return at::tan(fl(x)); });
  unary("Tanh", [=](auto& x) { return at::tanh(fl(x)); });
  unary("Elu", [=](auto& x) { return at::elu(fl(x)); });
  unary("ZerosLike", [](auto& x) { return at::zeros_like(x); });
  unary("OnesLike", [](auto& x) { return at::ones_like(x); });
  unary("Copy", [](auto& x) { return x.clone(); });
  m["Cast"] = [](Args& a, Out& o) { o.put(a.t()); };  // Out casts
  m["Step"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    double alpha = a.f();
    if (!x.is_floating_point()) {
      o.put(at::where(x > 0, at::scalar_tensor(1, x.options()), at::scalar_tensor(alpha, x.options())));
      return;
    }
    // tfjs: x > 0 ? 1 : alpha, NaN stays NaN. One pass writes x > 0 as 0/1 straight into a float
    // tensor (at::where with scalar operands took ~1.5 ms on [32,32,32,16], this ~50 µs); a NaN
    // makes the sum NaN, so only then is the exact mask built.
    at::Tensor r = at::empty_like(x);
    at::gt_out(r, x, 0);
    if (alpha != 0) r.mul_(1 - alpha).add_(alpha);
    if (!std::isfinite(x.sum().item<double>())) r.masked_fill_(at::isnan(x), std::numeric_limits<double>::quiet_NaN());
    o.put(r);
  };
  m["EluGrad"] = [](Args& a, Out& o) {  // dy, y: dy where y ≥ 0, else dy·(y + 1)
    at::Tensor dy = a.t(), y = a.t();
    o.put(at::where(y >= 0, dy, dy * (y + 1)));
  };
  m["Cumsum"] = [](Args& a, Out& o) { cumulative(a, o, false); };
  m["Cumprod"] = [](Args& a, Out& o) { cumulative(a, o, true); };
  m["LeakyRelu"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    o.put(at::leaky_relu(x, a.f()));
  };
  m["ClipByValue"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    double lo = a.f(), hi = a.f();
    o.put(at::clamp(x, lo, hi));
  };

  binary("Add", [](auto& x, auto& y) { return x + y; });
  binary("Sub", [](auto& x, auto& y) { return x - y; });
  binary("Multiply", [](auto& x, auto& y) { return x * y; });
  binary("RealDiv", [=](auto& x, auto& y) { return fl(x) / y; });
  binary("FloorDiv", [](auto& x, auto& y) { return at::div(x, y, "floor"); });
  binary("Mod", [](auto& x, auto& y) { return at::remainder(x, y); });
  binary("Maximum", [](auto& x, auto& y) { return at::maximum(x, y); });
  binary("Minimum", [](auto& x, auto& y) { return at::minimum(x, y); });
  binary("Pow", [](auto& x, auto& y) { return at::pow(x, y); });
  binary("SquaredDifference", [](auto& x, auto& y) { return (x - y) * (x - y); });
  binary("Atan2", [=](auto& x, auto& y) { return at::atan2(fl(x), fl(y)); });
  binary("Equal", [](auto& x, auto& y) { return at::eq(x, y); });
  binary("NotEqual", [](auto& x, auto& y) { return at::ne(x, y); });
  binary("Greater", [](auto& x, auto& y) { return at::gt(x, y); });
  binary("GreaterEqual", [](auto& x, auto& y) { return at::ge(x, y); });
  binary("Less", [](auto& x, auto& y) { return at::lt(x, y); });
  binary("LessEqual", [](auto& x, auto& y) { return at::le(x, y); });
  binary("LogicalAnd", [](auto& x, auto& y) { return at::logical_and(x, y); });
  binary("LogicalOr", [](auto& x, auto& y) { return at::logical_or(x, y); });
  binary("Prelu", [](auto& x, auto& y) { return at::where(x < 0, x * y, x); });
  m["AddN"] = [](Args& a, Out& o) {
    auto ts = a.tensors();
    at::Tensor r = ts[0].clone();
    for (size_t j = 1; j < ts.size(); j++) r.add_(ts[j]);
    o.put(r);
  };
  m["Select"] = [](Args& a, Out& o) {
    at::Tensor c = a.t(), t = a.t(), e = a.t();
    if (c.dim() == 1 && t.dim() > 1) {
      std::vector<int64_t> s(t.dim(), 1);
      s[0] = c.size(0);
      c = c.view(s);
    }
    o.put(at::where(c.to(at::kBool), t, e));
  };

  m["Sum"] = [](Args& a, Out& o) { reduce(a, o, 0); };
  m["Mean"] = [](Args& a, Out& o) { reduce(a, o, 1); };
  m["Max"] = [](Args& a, Out& o) { reduce(a, o, 2); };
  m["Min"] = [](Args& a, Out& o) { reduce(a, o, 3); };
  m["Prod"] = [](Args& a, Out& o) { reduce(a, o, 4); };
  m["Any"] = [](Args& a, Out& o) { reduce(a, o, 5); };
  m["All"] = [](Args& a, Out& o) { reduce(a, o, 6); };
  m["ArgMax"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    o.put(at::argmax(x, a.n()));
  };
  m["ArgMin"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    o.put(at::argmin(x, a.n()));
  };
  m["Softmax"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    o.put(at::softmax(x, a.n()));
  };

  m["BatchMatMul"] = [](Args& a, Out& o) {
    at::Tensor x = a.t(), y = a.t();
    bool ta = a.b(), tb = a.b();
    auto single = [](const at::Tensor& t) { return t.dim() == 2 || (t.dim() == 3 && t.size(0) == 1); };
    if (single(x) && single(y)) {  // one pair of matrices (ranks 2 or batch 1): no batched path
      at::Tensor r = matmul2d(x.dim() == 3 ? x.select(0, 0) : x, y.dim() == 3 ? y.select(0, 0) : y, ta, tb);
      o.put(x.dim() == 3 || y.dim() == 3 ? r.unsqueeze(0) : r);
      return;
    }
    o.put(at::matmul(ta ? x.transpose(-1, -2) : x, tb ? y.transpose(-1, -2) : y));
  };
  m["Transpose"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    o.put(x.permute(a.list()));
  };
  m["Slice"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    auto begin = a.list(), size = a.list();
    for (size_t d = 0; d < begin.size(); d++) x = x.narrow(d, begin[d], size[d]);
    o.put(x);
  };
  m["StridedSlice"] = [](Args& a, Out& o) {  // begin, end, strides already normalised (positive strides)
    at::Tensor x = a.t();
    auto begin = a.list(), end = a.list(), strides = a.list();
    for (size_t d = 0; d < begin.size(); d++) x = x.slice(d, begin[d], end[d], strides[d]);
    o.put(x);
  };
  m["PadV2"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    auto p = a.list();  // before/after per dim, first dim first
    double value = a.f();
    std::vector<int64_t> q;
    for (int64_t d = static_cast<int64_t>(p.size()) / 2 - 1; d >= 0; d--) {
      q.push_back(p[2 * d]);
      q.push_back(p[2 * d + 1]);
    }
    o.put(at::constant_pad_nd(x, q, value));
  };
  m["Concat"] = [](Args& a, Out& o) {
    auto ts = a.tensors();
    o.put(at::cat(ts, a.n()));
  };
  m["Pack"] = [](Args& a, Out& o) {
    auto ts = a.tensors();
    o.put(at::stack(ts, a.n()));
  };
  m["Unpack"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    for (auto& t : at::unbind(x, a.n())) o.put(t);
  };
  m["SplitV"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    auto sizes = a.list();
    for (auto& t : at::split_with_sizes(x, sizes, a.n())) o.put(t);
  };
  m["Tile"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    o.put(x.repeat(a.list()));
  };
  m["Reverse"] = [](Args& a, Out& o) {
    at::Tensor x = a.t();
    o.put(at::flip(x, a.list()));
  };
  m["GatherV2"] = [](Args& a, Out& o) {  // x, indices, axis (batchDims 0)
    at::Tensor x = a.t(), idx = a.t();
    int64_t axis = a.n();
    at::Tensor r = at::index_select(x, axis, idx.reshape({-1}).to(at::kLong));
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().begin() + axis);
    for (auto s : idx.sizes()) shape.push_back(s);
    for (int64_t d = axis + 1; d < x.dim(); d++) shape.push_back(x.size(d));
    o.put(r.view(shape));
  };
  m["UnsortedSegmentSum"] = [](Args& a, Out& o) {  // x, segmentIds (x's leading dims), numSegments
    at::Tensor x = a.t(), ids = a.t();
    int64_t n = a.n();
    at::Tensor flat = x.reshape({ids.numel(), -1});
    at::Tensor r = at::zeros({n, flat.size(1)}, x.options());
    r.index_add_(0, ids.reshape({-1}).to(at::kLong), flat);
    std::vector<int64_t> shape{n};
    for (int64_t d = ids.dim(); d < x.dim(); d++) shape.push_back(x.size(d));
    o.put(r.view(shape));
  };
  m["OneHot"] = [](Args& a, Out& o) {
    at::Tensor idx = a.t().to(at::kLong);
    int64_t depth = a.n();
    double on = a.f(), off = a.f();
    at::Tensor valid = (idx >= 0) & (idx < depth);
    at::Tensor hot = at::one_hot(at::where(valid, idx, at::zeros_like(idx)), depth) * valid.unsqueeze(-1);
    o.put(hot.to(at::kFloat) * (on - off) + off);
  };
  m["Fill"] = [](Args& a, Out& o) {
    auto shape = a.list();
    double value = a.f();
    int64_t device = a.n();
    o.put(at::full(shape, value, at::TensorOptions().dtype(o.dtype).device(device ? at::kCUDA : at::kCPU)));
  };
  m["Range"] = [](Args& a, Out& o) {
    double start = a.f(), stop = a.f(), step = a.f();
    int64_t device = a.n();
    int64_t n = static_cast<int64_t>(a.n());
    auto opts = at::TensorOptions().dtype(at::kDouble).device(device ? at::kCUDA : at::kCPU);
    o.put(at::arange(n, opts) * step + start);
    (void)stop;
  };
  m["FusedBatchNorm"] = [](Args& a, Out& o) {  // x, mean, variance, offset?, scale?, eps
    at::Tensor x = a.t(), mean = a.t(), var = a.t();
    bool has_offset = a.b();
    at::Tensor offset = has_offset ? a.t() : at::Tensor();
    bool has_scale = a.b();
    at::Tensor scale = has_scale ? a.t() : at::Tensor();
    double eps = a.f();
    at::Tensor r = (x - mean) * at::rsqrt(var + eps);
    if (has_scale) r = r * scale;
    if (has_offset) r = r + offset;
    o.put(r);
  };
  // The array kernels of runtime/kernels/array_kernels.ts, one op each, with their semantics: reductions
  // in float64, statistics rounded to float32 before they are used.
  // Batch norm on [M, C] seen as a channels-last [M, C, 1, 1] image batch: ATen's CPU kernels accumulate
  // float statistics in double, two passes (mean, then Σ(x − mean)²), parallel over channels.
  m["AsapBatchNormTrain"] = [](Args& a, Out& o) {  // x [..., C], eps -> x̂, mean, variance, rstd
    at::Tensor x = a.t();
    double eps = a.f();
    if (rows_on_cpu(x)) {
      at::Tensor rows = as_rows(x);
      auto [mean, var] = row_moments(rows);
      at::Tensor rstd = at::rsqrt(var.to(at::kDouble) + eps).to(at::kFloat);
      o.put(normalise_rows(rows, mean, rstd, at::zeros_like(rstd), x));
      o.put(mean);
      o.put(var);
      o.put(rstd);
      return;
    }
    int64_t c = x.size(-1), rows = c == 0 ? 0 : x.numel() / c;
    // [rows, C] seen as the channels-last image [1, C, rows, 1]: ATen's channels-last statistics kernel
    // reads the memory in order (the [rows, C, 1, 1] view it had before was read a channel at a time,
    // C-strided: 2.0 ms against 0.24 ms on [32,32,32,16], the same bits).
    at::Tensor xcl = x.reshape({1, rows, 1, c}).permute({0, 3, 1, 2});
    auto [mean, var] = at::batch_norm_update_stats(xcl, {}, {}, 0.0);
    at::Tensor rstd = at::rsqrt(var.to(at::kDouble) + eps).to(at::kFloat);
    o.put(at::sub(x.reshape({rows, c}), mean).mul_(rstd).view(x.sizes()));  // one output buffer, no temporary
    o.put(mean);
    o.put(var);
    o.put(rstd);
  };
  // dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))·rstd: ATen's batch norm gradient with input x̂, mean 0, 1/σ 1 and
  // weight rstd.
  m["AsapBatchNormGrad"] = [](Args& a, Out& o) {  // dy, x̂, rstd -> dx
    at::Tensor dy = a.t(), xhat = a.t(), rstd = a.t();
    int64_t c = dy.size(-1);
    if (rows_on_cpu(dy) && rows_on_cpu(xhat)) {  // centre 0, k = Σdy·x̂/M, w = rstd
      const double m = static_cast<double>(dy.numel() / c);
      at::Tensor r = rstd.contiguous();
      const float* pr = r.data_ptr<float>();
      o.put(row_grad(dy, xhat, at::zeros({c}, dy.options()), [&](const RowsGrad& g, float* k, float* w) {
              for (int64_t j = 0; j < c; j++) {
                k[j] = static_cast<float>(g.p[j] / m);
                w[j] = pr[j];
              }
            }).dx);
      return;
    }
    at::Tensor g = dy.reshape({-1, c, 1, 1}), xh = xhat.reshape({-1, c, 1, 1});
    at::Tensor zero = at::zeros({c}, rstd.options()), one = at::ones({c}, rstd.options());
    auto r = at::native_batch_norm_backward(g, xh, rstd, {}, {}, zero, one, true, 0.0, {true, false, false});
    o.put(std::get<0>(r).view(dy.sizes()));
  };
  m["AsapMomentumUpdate"] = [](Args& a, Out& o) {  // running, batch, momentum, scale
    at::Tensor running = a.t(), batch = a.t();
    double m = a.f(), scale = a.f();
    o.put((running.to(at::kDouble) * (1 - m) + batch.to(at::kDouble) * (m * scale)).to(at::kFloat));
  };
  // One weight's SGD step, each operation rounded to float32 in the order of the composed tfjs ops (one
  // statement per operation; the shim is built with -ffp-contract=off, so no fused multiply-adds).
  m["AsapSgdUpdate"] = [](Args& a, Out& o) {  // w, g, buf, scale[1], lr, momentum, decay, nesterov -> w, buf
    at::Tensor w = a.t().contiguous(), g = a.t().contiguous(), buf = a.t().contiguous(), scale = a.t();
    const float lr = static_cast<float>(a.f()), m = static_cast<float>(a.f()), decay = static_cast<float>(a.f());
    const bool nesterov = a.f() != 0;
    if (w.scalar_type() != at::kFloat || g.sizes() != w.sizes() || buf.sizes() != w.sizes())
      throw std::runtime_error("AsapSgdUpdate: w, g and buf must be float32 tensors of one shape");
    if (!w.device().is_cpu()) return sgd_update_aten(w, g, buf, scale, lr, m, decay, nesterov, o);
    const float s = scale.item<float>();
    at::Tensor w2 = at::empty_like(w), buf2 = at::empty_like(buf);
    const float *pw = w.data_ptr<float>(), *pg = g.data_ptr<float>(), *pb = buf.data_ptr<float>();
    float *qw = w2.data_ptr<float>(), *qb = buf2.data_ptr<float>();
    for (int64_t i = 0, n = w.numel(); i < n; i++) {
      float gi = pg[i] * s;
      if (decay != 0) {
        float wd = pw[i] * decay;
        gi = gi + wd;
      }
      float bm = pb[i] * m;
      float b = bm + gi;
      float d = b;
      if (nesterov) {
        float bn = b * m;
        d = gi + bn;
      }
      float step = d * lr;
      qb[i] = b;
      qw[i] = pw[i] - step;
    }
    o.put(w2);
    o.put(buf2);
  };
  m["AsapWeightedSum"] = [](Args& a, Out& o) {  // phi, terms, at -> Σ φ[at_k]·t_k
    at::Tensor phi = a.t();
    auto terms = a.tensors();
    auto at_ = a.list();
    at::Tensor out = terms[0] * phi[at_[0]];
    for (size_t k = 1; k < terms.size(); k++) out.addcmul_(terms[k], phi[at_[k]]);
    o.put(out);
  };
  // Max pooling (symmetric padding) and where each maximum was: its index in the input plane (y·W + x, the
  // window's first maximum in row-major order, as PyTorch), as float32 (exact below 2^24 pixels).
  m["AsapMaxPoolIndices"] = [](Args& a, Out& o) {  // x, k, stride, pad -> y, indices
    at::Tensor x = nchw(a.t());
    int64_t k = a.n(), s = a.n(), p = a.n();
    auto [y, idx] = at::max_pool2d_with_indices(x, {k, k}, {s, s}, {p, p});
    if (nonfinite(y)) {  // tfjs' semantics (see pool()); -1: the window passes no gradient
      auto r = tf_max_pool(nhwc(x), {k, k}, {s, s}, p, p, y.size(2), y.size(3));
      o.put(r.first);
      o.put(r.second);
      return;
    }
    o.put(nhwc(y));
    o.put(nhwc(idx));
  };
  m["AsapMaxPoolIndicesGrad"] = [](Args& a, Out& o) {  // dy, indices, input shape (NHWC), k, stride, pad -> dx
    at::Tensor dy = nchw(a.t()), idx = nchw(a.t()).to(at::kLong);
    auto xs = a.list();
    int64_t k = a.n(), s = a.n(), p = a.n();
    // Only the input's shape and layout are read.
    at::Tensor x = at::empty({xs[0], xs[3], xs[1], xs[2]}, dy.options().memory_format(at::MemoryFormat::ChannelsLast));
    o.put(nhwc(at::max_pool2d_with_indices_backward(dy, x, {k, k}, {s, s}, {p, p}, {1, 1}, false, idx)));
  };
  m["AsapWeightedSumGrad"] = [](Args& a, Out& o) {  // dy, phi, terms, at, want dφ -> dt_k…, dφ
    at::Tensor dy = a.t(), phi = a.t();
    auto terms = a.tensors();
    auto at_ = a.list();
    bool with_phi = a.b();  // false: dφ is not wanted (the w step), zeros
    at::Tensor dphi = at::zeros({phi.size(0)}, phi.options());
    for (size_t k = 0; k < terms.size(); k++) {
      o.put(dy * phi[at_[k]]);
      if (with_phi) dphi[at_[k]].copy_(at::sum(terms[k] * dy, at::kDouble));
    }
    o.put(dphi);
  };
  m["Conv"] = conv;
  m["Pool"] = pool;
  add_gap_ops(m);
  return m;
}

// ---- The evaluation network's training kernels (runtime/kernels/array_kernels.ts) ---------------------------
// An affine batch norm and a relu's gradient, each one op where the composed tfjs ops took three to six
// passes over the feature map (the evaluation network's batch norms are all affine).

/** [rows, C] as the channels-last image [1, C, rows, 1]: ATen's channels-last kernels read it in order. */
at::Tensor rows_as_image(const at::Tensor& x, int64_t c) {
  return x.reshape({1, x.numel() / c, 1, c}).permute({0, 3, 1, 2});
}

void add_evaluation_ops(std::unordered_map<std::string, Op>& m) {
  // x [..., C], γ, β, eps -> y = γ·(x − mean)·rstd + β, mean, variance (biased), rstd: the statistics as
  // AsapBatchNormTrain's, then one pass y = x·(γ·rstd) + (β − mean·γ·rstd).
  m["AsapBatchNormAffineTrain"] = [](Args& a, Out& o) {
    at::Tensor x = a.t(), gamma = a.t(), beta = a.t();
    double eps = a.f();
    int64_t c = x.size(-1);
    if (c == 0 || x.numel() == 0) throw std::runtime_error("AsapBatchNormAffineTrain: empty input");
    if (rows_on_cpu(x)) {  // y = (x − mean)·(γ·rstd) + β
      at::Tensor rows = as_rows(x);
      auto [mean, var] = row_moments(rows);
      at::Tensor rstd = at::rsqrt(var.to(at::kDouble) + eps).to(at::kFloat);
      o.put(normalise_rows(rows, mean, (gamma * rstd).contiguous(), beta.contiguous(), x));
      o.put(mean);
      o.put(var);
      o.put(rstd);
      return;
    }
    auto [mean, var] = at::batch_norm_update_stats(rows_as_image(x, c), {}, {}, 0.0);
    at::Tensor rstd = at::rsqrt(var.to(at::kDouble) + eps).to(at::kFloat);
    at::Tensor scale = gamma * rstd, shift = beta - mean * scale;
    o.put(at::addcmul(shift, x.reshape({-1, c}), scale).view(x.sizes()));
    o.put(mean);
    o.put(var);
    o.put(rstd);
  };
  // dy, x, mean, rstd, γ -> dx, dγ = Σ dy·x̂, dβ = Σ dy: ATen's batch norm gradient (PyTorch's own CPU kernel)
  // on the channels-last views, in one call.
  m["AsapBatchNormAffineGrad"] = [](Args& a, Out& o) {
    at::Tensor dy = a.t(), x = a.t(), mean = a.t(), rstd = a.t(), gamma = a.t();
    int64_t c = dy.size(-1);
    if (rows_on_cpu(dy) && rows_on_cpu(x)) {  // centre mean, k = Σdy·(x − mean)·rstd²/M, w = γ·rstd
      const double m = static_cast<double>(dy.numel() / c);
      at::Tensor r = rstd.contiguous(), gm = gamma.contiguous();
      const float *pr = r.data_ptr<float>(), *pg = gm.data_ptr<float>();
      RowsGrad g = row_grad(dy, x, mean, [&](const RowsGrad& g, float* k, float* w) {
        for (int64_t j = 0; j < c; j++) {
          const double rs = pr[j];
          k[j] = static_cast<float>(g.p[j] * rs * rs / m);
          w[j] = pg[j] * pr[j];
        }
      });
      at::Tensor dgamma = at::empty({c}, dy.options()), dbeta = at::empty({c}, dy.options());
      for (int64_t j = 0; j < c; j++) {
        dgamma.data_ptr<float>()[j] = static_cast<float>(g.p[j] * pr[j]);
        dbeta.data_ptr<float>()[j] = static_cast<float>(g.s[j]);
      }
      o.put(g.dx);
      o.put(dgamma);
      o.put(dbeta);
      return;
    }
    auto r = at::native_batch_norm_backward(rows_as_image(dy, c), rows_as_image(x, c), gamma, {}, {}, mean, rstd,
                                            true, 0.0, {true, true, true});
    o.put(std::get<0>(r).permute({0, 2, 3, 1}).reshape(dy.sizes()));
    o.put(std::get<1>(r));
    o.put(std::get<2>(r));
  };
  // dy, y -> dy where y > 0, else 0 (tfjs's dy·step(y)).
  m["AsapReluGrad"] = [](Args& a, Out& o) {
    at::Tensor dy = a.t(), y = a.t();
    o.put(at::threshold_backward(dy, y, 0));
  };
}

/**
 * glibc's malloc keeps freed feature maps for the next step instead of returning them to the kernel: by
 * default a freed block above its (adaptive) mmap threshold is unmapped, and free memory at the top of a heap
 * beyond the trim threshold is given back, so every step faulted its buffers in again, zeroed page by page —
 * 27,000–32,000 minor faults and ~0.3 s of system time per quickstart evaluation step (C = 16, 8 cells, b64)
 * against ~5,500 and 0.08 s with blocks up to 32 MiB (mallopt's largest mmap threshold) served from the heap
 * and nothing trimmed (measured on the 2-core machine kind). The process's resident size stays at its peak,
 * which each step reaches anyway. Set once, when the shim loads.
 */
[[maybe_unused]] const bool allocator_tuned = [] {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  return true;
}();

/** make_ops() and the evaluation network's kernels. */
std::unordered_map<std::string, Op> all_ops() {
  auto m = make_ops();
  add_evaluation_ops(m);
  return m;
}
// ---- end of the evaluation network's training kernels -----------------------------------------------------

/** The ops by code, and their codes by name, built once (thread-safe static initialisation). */
struct Table {
  std::vector<Op> ops;
  std::unordered_map<std::string, int> codes;
  Table() {
    for (auto& [k, op] : all_ops()) {
      codes[k] = static_cast<int>(ops.size());
      ops.push_back(op);
    }
  }
};
const Table& table() {
  static const Table t;
  return t;
}

}  // namespace

extern "C" {

/** Copies the message of the last failed call (UTF-8, truncated to `cap`) to `dst`; returns its length. */
int32_t asap_last_error(char* dst, int32_t cap) {
  int32_t n = static_cast<int32_t>(std::min<size_t>(last_error.size(), cap));
  std::memcpy(dst, last_error.data(), n);
  return n;
}
/** Handles alive. */
int64_t asap_live() { return live.load(); }

/** The code of op `name` (a NUL-terminated tfjs kernel name or shim op), or -1 when there is none. */
int32_t asap_op_code(const char* name) {
  auto& codes = table().codes;
  auto it = codes.find(name);
  return it == codes.end() ? -1 : it->second;
}

/**
 * Runs op `code` on `in` (the output dtype code first); returns the number of outputs written to
 * `out` (256 doubles; each output: handle, rank, dims), or -1 with asap_last_error set.
 */
int32_t asap_run(int32_t code, const double* in, double* out) {
  args = in;
  outs = out;
  try {
    c10::InferenceMode no_autograd;  // no autograd or version-counter bookkeeping: tfjs does the gradients
    Args a;
    Out o{dtype_of(a.n())};
    table().ops.at(code)(a, o);
    return o.count;
  } catch (const std::exception& e) {
    last_error = e.what();
    // ATen's messages end with a C++ backtrace after the first line break of its summary.
    auto cut = last_error.find("\nException raised from");
    if (cut != std::string::npos) last_error.resize(cut);
    return -1;
  }
}

/**
 * A new tensor of dtype code `dtype` on `device` (0 CPU, 1 CUDA), shape from `in` (rank, dims),
 * filled with `bytes` bytes from `src`; returns its handle, or 0 with asap_last_error set.
 */
uint64_t asap_write(const void* src, int64_t bytes, int32_t dtype, int32_t device, const double* in) {
  args = in;
  try {
    c10::InferenceMode no_autograd;
    Args a;
    auto shape = a.list();
    auto opts = at::TensorOptions().dtype(dtype_of(dtype));
    at::Tensor cpu = at::empty(shape, opts);
    if (static_cast<int64_t>(cpu.nbytes()) != bytes) throw std::runtime_error("write: size mismatch");
    if (bytes > 0) std::memcpy(cpu.data_ptr(), src, bytes);
    return reinterpret_cast<uintptr_t>(handle(device ? cpu.to(at::kCUDA) : cpu));
  } catch (const std::exception& e) {
    last_error = e.what();
    return 0;
  }
}

/** Copies the tensor's bytes (row-major) to `dst` (`bytes` long); returns 0, or -1 with the error set. */
int32_t asap_read(uint64_t h, void* dst, int64_t bytes) {
  try {
    c10::InferenceMode no_autograd;
    at::Tensor t = reinterpret_cast<at::Tensor*>(h)->to(at::kCPU).contiguous();
    if (static_cast<int64_t>(t.nbytes()) != bytes) throw std::runtime_error("read: size mismatch");
    if (bytes > 0) std::memcpy(dst, t.data_ptr(), bytes);
    return 0;
  } catch (const std::exception& e) {
    last_error = e.what();
    return -1;
  }
}

/** Bytes of the tensor's storage. */
int64_t asap_nbytes(uint64_t h) { return static_cast<int64_t>(reinterpret_cast<at::Tensor*>(h)->nbytes()); }

/** Releases a handle. */
void asap_free(uint64_t h) {
  live--;
  delete reinterpret_cast<at::Tensor*>(h);
}

/**
 * Sets ATen's intra-op thread count (for the calling thread's pool: call it on the JS thread), and the shim's
 * own OpenMP regions' (the same runtime as ATen's with Debian's libtorch; a pip PyTorch bundles its own).
 */
void asap_set_threads(int32_t n) {
  at::set_num_threads(n);
  omp_set_num_threads(n);
}
/** ATen's intra-op thread count. */
int32_t asap_get_threads() { return at::get_num_threads(); }
/** 1 when ATen sees a CUDA device (only in a build linked with torch_cuda). */
int32_t asap_cuda_available() { return at::hasCUDA() ? 1 : 0; }

}  // extern "C"

// ---------------------------------------------------------------------------------------------------
// Gaps closed after the first version: tfjs' max pooling semantics for NaN and infinities, TopK, GatherV2
// with batch dimensions, and the storage size of a handle (for the tests of views).
namespace {

/** Whether `t` holds a NaN or an infinity (or sums past float's range: then the slow path is merely exact). */
bool nonfinite(const at::Tensor& t) { return t.numel() > 0 && !std::isfinite(t.sum().item<double>()); }

/**
 * Max pooling as tfjs' cpu backend computes it, on a float NHWC tensor: each window's first value greater
 * than all before it, starting from −∞ (so NaNs are skipped and a window of NaNs or −∞ gives −∞), over the
 * pixels inside the image only. Returns the output and each maximum's index in its input plane (y·W + x) as
 * float32, or −1 where no value exceeded −∞. Only called when a window holds a non-finite value.
 */
std::pair<at::Tensor, at::Tensor> tf_max_pool(const at::Tensor& x_, std::vector<int64_t> k, std::vector<int64_t> s,
                                              int64_t top, int64_t left, int64_t ho, int64_t wo) {
  at::Tensor x = x_.to(at::kCPU).to(at::kFloat).contiguous();
  int64_t n = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  at::Tensor y = at::empty({n, ho, wo, c}, x.options()), idx = at::empty({n, ho, wo, c}, x.options());
  const float* px = x.data_ptr<float>();
  float *py = y.data_ptr<float>(), *pi = idx.data_ptr<float>();
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int64_t b = 0; b < n; b++)
    for (int64_t r = 0; r < ho; r++)
      for (int64_t q = 0; q < wo; q++)
        for (int64_t ch = 0; ch < c; ch++) {
          float best = neg_inf;
          int64_t at_ = -1;
          for (int64_t i = std::max<int64_t>(0, r * s[0] - top); i < std::min(h, r * s[0] - top + k[0]); i++)
            for (int64_t j = std::max<int64_t>(0, q * s[1] - left); j < std::min(w, q * s[1] - left + k[1]); j++) {
              float v = px[((b * h + i) * w + j) * c + ch];
              if (v > best) {
                best = v;
                at_ = i * w + j;
              }
            }
          int64_t o = ((b * ho + r) * wo + q) * c + ch;
          py[o] = best;
          pi[o] = static_cast<float>(at_);
        }
  return {y.to(x_.device()), idx.to(x_.device())};
}

/** The gradient of {@link tf_max_pool}: dy [N, Ho, Wo, C] added at each window's index (none at −1). */
at::Tensor tf_max_pool_grad(const at::Tensor& dy_, const at::Tensor& idx_, int64_t h, int64_t w) {
  at::Tensor dy = dy_.to(at::kCPU).to(at::kFloat).contiguous(), idx = idx_.to(at::kCPU).contiguous();
  int64_t n = dy.size(0), ho = dy.size(1), wo = dy.size(2), c = dy.size(3);
  at::Tensor dx = at::zeros({n, h, w, c}, dy.options());
  const float *pd = dy.data_ptr<float>(), *pi = idx.data_ptr<float>();
  float* px = dx.data_ptr<float>();
  for (int64_t b = 0; b < n; b++)
    for (int64_t o = 0; o < ho * wo; o++)
      for (int64_t ch = 0; ch < c; ch++) {
        int64_t e = (b * ho * wo + o) * c + ch, at_ = static_cast<int64_t>(pi[e]);
        if (at_ >= 0) px[(b * h * w + at_) * c + ch] += pd[e];
      }
  return dx.to(dy_.device());
}

/** AsapSgdUpdate off the CPU (a CUDA build): the same steps as ATen ops on the tensors' device. */
void sgd_update_aten(const at::Tensor& w, const at::Tensor& g, const at::Tensor& buf, const at::Tensor& scale,
                     float lr, float m, float decay, bool nesterov, Out& o) {
  at::Tensor gi = g * scale;
  if (decay != 0) gi = gi + w * decay;
  at::Tensor b = buf * m + gi;
  at::Tensor d = nesterov ? gi + b * m : b;
  o.put(w - d * lr);
  o.put(b);
}

void add_gap_ops(std::unordered_map<std::string, Op>& m) {
  // The k largest values along the last axis, largest first, equal values in index order (tfjs' cpu order),
  // and their indices.
  m["TopK"] = [](Args& a, Out& o) {  // x, k
    at::Tensor x = a.t();
    int64_t k = a.n();
    auto [values, indices] = at::sort(x, /*stable=*/true, /*dim=*/-1, /*descending=*/true);
    o.put(values.narrow(-1, 0, k));
    o.dtype = at::kInt;
    o.put(indices.narrow(-1, 0, k));
  };
  // GatherV2 with batch dimensions: x seen as [B, O, D, S] (batches, the axes before the gathered one, it,
  // the axes after), indices as [B, I] -> [B, O, I, S].
  m["GatherBatch"] = [](Args& a, Out& o) {  // x [B, O, D, S], indices [B, I]
    at::Tensor x = a.t(), idx = a.t().to(at::kLong);
    int64_t d = x.size(2);
    if (idx.numel() > 0 && (idx.min().item<int64_t>() < 0 || idx.max().item<int64_t>() >= d)) {
      throw std::runtime_error("GatherV2: an index is not in [0, " + std::to_string(d - 1) + "]");
    }
    at::Tensor where = idx.view({idx.size(0), 1, idx.size(1), 1}).expand({x.size(0), x.size(1), idx.size(1), x.size(3)});
    o.put(at::gather(x, 2, where));
  };
}

}  // namespace

extern "C" {
/** Bytes of the storage behind a handle (more than asap_nbytes when the tensor is a view of a larger one). */
int64_t asap_storage_nbytes(uint64_t h) {
  return static_cast<int64_t>(reinterpret_cast<at::Tensor*>(h)->storage().nbytes());
}
}  // extern "C"
