// lce_hls.h: the header-only HLS template library that lce_convert's HLS lowering emits code
// against (Vitis HLS; C-simulation with g++ and the Xilinx ap_types headers).
//
// Conventions (the same integer semantics as the CPU kernels, see semantics.md):
// - A binary activation pixel is an ap_uint<C>: bit c is channel c, bit 1 means -1 and bit 0
//   means +1 (LCE's convention, so a CPU bitpacked word is the same bits).
// - A fixed-point pixel is a vec<T, C>.
// - Every unit processes one frame per call and streams one pixel (or one window tap) per
//   transfer, in raster order, so that the top function can be a #pragma HLS DATAFLOW region.
// - One matrix-vector unit (mvau) for every convolution and dense layer; a dot-product policy
//   says what one SIMD step adds to a neuron's accumulator (BinaryDot: the +-1 dot product
//   SIMD - 2*popcount(x XOR w); FixedDot: the exact sum of w*x), an output stage what a
//   finished accumulator becomes (bits by a threshold, or a fixed-point value).
// - Binary units accumulate conv = the +-1 dot product over the window. A zero-padded tap
//   (flagged pad by the sliding-window unit) adds nothing: that is the CPU's
//   K - 2*accum - corr with corr = C_g - 2*popcount(w_tap) per padded tap (semantics.md),
//   for any channel count. One padding sends all-zero words (+1) as data.
// - Thresholded output uses the converter's integers as the CPU does: bit 1 (-1) iff
//   accum_eff > t with accum_eff = (K - conv)/2, i.e. K - conv > 2t.
// - Accumulators are wide enough never to wrap (widths chosen by the lowering); rounding and
//   saturation happen only where a value is cast to a layer's output type.
#ifndef LCE_HLS_H
#define LCE_HLS_H

#include <ap_fixed.h>
#include <ap_int.h>
#include <hls_stream.h>
#include <stdint.h>
#ifndef __SYNTHESIS__
#include <cstdio>
#endif

namespace lce_hls {

template <class T, int N>
struct vec {
  T v[N];
};

// One window tap as the sliding-window unit emits it: `pad` marks a tap outside the image that
// must contribute nothing (zero padding); one padding sends pad = false with all-zero bits.
template <class T>
struct tap {
  T data;
  bool pad;
};

template <class T>
inline void set_zero(T &x) { x = 0; }
template <class T, int N>
inline void set_zero(vec<T, N> &x) {
  for (int i = 0; i < N; ++i) {
#pragma HLS UNROLL
    x.v[i] = 0;
  }
}

// popcount of an arbitrary-width word.
template <int W>
inline ap_uint<16> popcount(const ap_uint<W> &x) {
#ifndef __SYNTHESIS__
  unsigned n = 0;
  for (int lo = 0; lo < W; lo += 64) {
    const int hi = lo + 63 < W ? lo + 63 : W - 1;
    n += __builtin_popcountll((unsigned long long)x.range(hi, lo).to_uint64());
  }
  return n;
#else
  ap_uint<16> n = 0;
  for (int i = 0; i < W; ++i) {
#pragma HLS UNROLL
    n += x[i];
  }
  return n;
#endif
}

// W bits of a little-endian uint64 bit string, starting at bit `offset`.
template <int W>
inline ap_uint<W> bits_at(const uint64_t *words, int offset) {
  ap_uint<W> r = 0;
  for (int lo = 0; lo < W; lo += 64) {
    const int n = W - lo < 64 ? W - lo : 64;
    const int bit = offset + lo, word = bit >> 6, shift = bit & 63;
    uint64_t v = words[word] >> shift;
    if (shift != 0 && shift + n > 64) v |= words[word + 1] << (64 - shift);
    if (n < 64) v &= (~0ULL) >> (64 - n);
    r.range(lo + n - 1, lo) = v;
  }
  return r;
}

// A fixed-point weight from its raw two's-complement bits (weights are emitted as int64 raw
// values: fast to compile, exact).
template <class WT, int W>
inline WT from_raw(int64_t raw) {
  WT x;
  x.range(W - 1, 0) = ap_int<64>(raw).range(W - 1, 0);
  return x;
}

// Sliding-window unit with padding: a line buffer of (KH-1)*DH+1 rows; emits KH*KW taps per
// output pixel (tap order ky, kx: the same as the filters' OHWI layout). PAD_IS_DATA: padded
// taps are valid all-zero words (one padding of binary data: bit 0 is +1); otherwise they are
// marked pad (zero padding, or ignored by max-pool).
template <class T, int IH, int IW, int KH, int KW, int SH, int SW, int DH, int DW, int PT, int PL, int OH, int OW,
          bool PAD_IS_DATA>
void swu(hls::stream<T> &in, hls::stream<tap<T> > &out) {
  const int NR = (KH - 1) * DH + 1;
  T buf[NR][IW];
  int rows = 0;
  for (int oy = 0; oy < OH; ++oy) {
    const int iy0 = oy * SH - PT;
    int need = iy0 + (KH - 1) * DH;
    if (need > IH - 1) need = IH - 1;
    for (; rows <= need; ++rows)
      for (int ix = 0; ix < IW; ++ix) {
#pragma HLS PIPELINE II = 1
        buf[rows % NR][ix] = in.read();
      }
    for (int ox = 0; ox < OW; ++ox)
      for (int ky = 0; ky < KH; ++ky)
        for (int kx = 0; kx < KW; ++kx) {
#pragma HLS PIPELINE II = 1
          const int iy = iy0 + ky * DH, ix = ox * SW - PL + kx * DW;
          tap<T> t;
          if (iy >= 0 && iy < IH && ix >= 0 && ix < IW) {
            t.data = buf[iy % NR][ix];
            t.pad = false;
          } else {
            set_zero(t.data);
            t.pad = !PAD_IS_DATA;
          }
          out.write(t);
        }
  }
  for (; rows < IH; ++rows)
    for (int ix = 0; ix < IW; ++ix) {
#pragma HLS PIPELINE II = 1
      in.read();
    }
}

// Clamp to [LO, HI] (either end optional): a fused activation.
template <bool HAS_LO, int LO, bool HAS_HI, int HI>
struct Clamp {
  template <class T>
  static T apply(T z) {
    if (HAS_LO && z < T(LO)) z = T(LO);
    if (HAS_HI && z > T(HI)) z = T(HI);
    return z;
  }
};
typedef Clamp<false, 0, false, 0> NoClamp;

// --- dot-product policies of the matrix-vector unit ----------------------------------------
// Each has acc_t and step(x, c0, row, s0): the contribution of SIMD input channels starting at
// channel c0 of the tap word x, against weight row `row` (= o*TAPS + t) from position s0.

// Binary: SIMD - 2*popcount(x XOR w), the +-1 dot product of SIMD channels. Weights: row r holds
// CG bits at bit offset r*WPR*64 of `w` (WPR 64-bit words per row).
template <int SIMD, int WPR, class AccT>
struct BinaryDot {
  typedef AccT acc_t;
  const uint64_t *w;
  BinaryDot(const uint64_t *weights) : w(weights) {}
  template <int CI>
  acc_t step(const ap_uint<CI> &x, int c0, int row, int s0) const {
    const ap_uint<SIMD> xv = x.range(c0 + SIMD - 1, c0);
    const ap_uint<SIMD> wv = bits_at<SIMD>(w, row * WPR * 64 + s0);
    return acc_t(SIMD) - acc_t(2) * acc_t(popcount<SIMD>(xv ^ wv));
  }
};

// Fixed point: the exact sum of w*x (AccT is wide enough never to wrap). Weights: raw WT bits
// w[row*CG + s].
template <int SIMD, int CG, class WT, int WW, class AccT>
struct FixedDot {
  typedef AccT acc_t;
  const int64_t *w;
  FixedDot(const int64_t *weights) : w(weights) {}
  template <class XT, int CI>
  acc_t step(const vec<XT, CI> &x, int c0, int row, int s0) const {
    acc_t s = 0;
    for (int i = 0; i < SIMD; ++i) {
#pragma HLS UNROLL
      s += acc_t(from_raw<WT, WW>(w[row * CG + s0 + i]) * x.v[c0 + i]);
    }
    return s;
  }
};

// --- output stages: out_t and set(out, channel, acc) ---------------------------------------

// Bitpacked output with the converter's integer thresholds: bit 1 (-1) iff
// accum_eff > thr[c], accum_eff = (K - conv)/2, evaluated as K - conv > 2*thr[c] (integers, so
// a half-integer accum_eff from zero padding with an odd channel count is exact).
template <int C, int K, class AccT, class ThrT, class CmpT>
struct ThresholdGT {
  typedef ap_uint<C> out_t;
  const ThrT *thr;
  ThresholdGT(const ThrT *t) : thr(t) {}
  void set(out_t &o, int c, const AccT &acc) const {
    o[c] = (CmpT(K) - CmpT(acc) > CmpT(2) * CmpT(thr[c])) ? 1 : 0;
  }
};

// Fixed-point output: z = Post(Pre(v) * M[c] + B[c]) evaluated exactly in ZT, then cast to OutT
// (the only rounding/saturation, with OutT's modes). A Bconv2d's float output is
// clamp(conv, lo, hi) * multiplier + bias (Pre = the fused activation); a float convolution's
// is clamp(acc + bias) (Post = the fused activation); a mul/add by constants is x*M + B.
template <int C, class AccT, class MT, class BT, class ZT, class OutT, class Pre, class Post>
struct Affine {
  typedef vec<OutT, C> out_t;
  const MT *M;
  const BT *B;
  Affine(const MT *m, const BT *b) : M(m), B(b) {}
  void set(out_t &o, int c, const AccT &acc) const {
    const AccT v = Pre::apply(acc);
    o.v[c] = OutT(Post::apply(ZT(ZT(v) * ZT(M[c]) + ZT(B[c]))));
  }
};

// Output stage of one neuron fold: channels nf*PE .. nf*PE + PE-1.
template <int PE, class Act, class AccT>
inline void activate(const Act &act, typename Act::out_t &o, int nf, const AccT acc[PE]) {
  for (int pe = 0; pe < PE; ++pe) {
#pragma HLS UNROLL
    act.set(o, nf * PE + pe, acc[pe]);
  }
}

// The matrix-vector unit, with PE/SIMD folding, over a window of TAPS taps of CI channels in
// GROUPS groups (CG = CI/GROUPS channels each; a depthwise convolution is GROUPS = CI = CO).
// Output channel o = nf*PE + pe reads the channels of group o / (CO/GROUPS). One loop of
// PIXELS * NF * SF iterations at II = 1 (NF = CO/PE neuron folds, SF = TAPS*CG/SIMD synapse
// folds): a tap is read from the stream the first time it is needed (nf = 0), so the window
// reads overlap the computation; a padded tap (zero padding) contributes nothing.
template <int CI, int CO, int TAPS, int GROUPS, int SIMD, int PE, int PIXELS, class X, class Dot, class Act>
void mvau(hls::stream<tap<X> > &in, hls::stream<typename Act::out_t> &out, const Dot &dot, const Act &act) {
  typedef typename Dot::acc_t acc_t;
  const int CG = CI / GROUPS, COG = CO / GROUPS, SF_TAP = CG / SIMD, SF = TAPS * SF_TAP, NF = CO / PE;
  tap<X> win[TAPS];
  acc_t acc[PE];
#pragma HLS ARRAY_PARTITION variable = acc complete
  typename Act::out_t o;
  set_zero(o);
  int sf = 0, nf = 0;
  for (int i = 0; i < PIXELS * NF * SF; ++i) {
#pragma HLS PIPELINE II = 1
    const int t = sf / SF_TAP, s0 = (sf % SF_TAP) * SIMD;
    if (nf == 0 && s0 == 0) win[t] = in.read();
    const tap<X> &x = win[t];
    for (int pe = 0; pe < PE; ++pe) {
#pragma HLS UNROLL
      const int oc = nf * PE + pe, g = oc / COG;
      const acc_t prev = sf == 0 ? acc_t(0) : acc[pe];
      acc[pe] = x.pad ? prev : acc_t(prev + dot.step(x.data, g * CG + s0, oc * TAPS + t, s0));
    }
    if (sf == SF - 1) {
      activate<PE>(act, o, nf, acc);
      if (nf == NF - 1) out.write(o);
    }
    if (++sf == SF) {
      sf = 0;
      if (++nf == NF) nf = 0;
    }
  }
}

// Per-element output stage on a fixed-point stream (mul/add/sub by constants, ReLU variants).
template <class XT, int C, int PIXELS, class Act>
void pointwise(hls::stream<vec<XT, C> > &in, hls::stream<typename Act::out_t> &out, const Act &act) {
  for (int p = 0; p < PIXELS; ++p) {
#pragma HLS PIPELINE II = 1
    const vec<XT, C> x = in.read();
    typename Act::out_t o;
    for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
      act.set(o, c, x.v[c]);
    }
    out.write(o);
  }
}

// Binary max-pool: +1 wins, so in bits (1 = -1) the max is the AND of the window's valid taps.
template <int C, int PIXELS, int TAPS>
void bmaxpool(hls::stream<tap<ap_uint<C> > > &in, hls::stream<ap_uint<C> > &out) {
  ap_uint<C> acc = ~ap_uint<C>(0);
  for (int i = 0; i < PIXELS * TAPS; ++i) {
#pragma HLS PIPELINE II = 1
    const int t = i % TAPS;
    const tap<ap_uint<C> > x = in.read();
    const ap_uint<C> prev = t == 0 ? ap_uint<C>(~ap_uint<C>(0)) : acc;
    acc = x.pad ? prev : ap_uint<C>(prev & x.data);
    if (t == TAPS - 1) out.write(acc);
  }
}

// Max-pool of fixed-point values over the window's valid taps (TF ignores padded taps; every
// window has at least one valid tap), then the fused activation.
template <class T, int C, int PIXELS, int TAPS, class Post>
void maxpool(hls::stream<tap<vec<T, C> > > &in, hls::stream<vec<T, C> > &out) {
  vec<T, C> acc;
  bool first = true;
  for (int i = 0; i < PIXELS * TAPS; ++i) {
#pragma HLS PIPELINE II = 1
    const int t = i % TAPS;
    const tap<vec<T, C> > x = in.read();
    if (t == 0) first = true;
    if (!x.pad) {
      for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
        if (first || x.data.v[c] > acc.v[c]) acc.v[c] = x.data.v[c];
      }
      first = false;
    }
    if (t == TAPS - 1) {
      vec<T, C> o;
      for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
        o.v[c] = Post::apply(acc.v[c]);
      }
      out.write(o);
    }
  }
}

// Average pool (also a global mean: one window over the whole map): the exact sum of the valid
// taps times recip[count] (1/count, exact for powers of two), cast once to OutT.
template <class T, class SumT, class RecT, class OutT, int C, int PIXELS, int TAPS>
void avgpool(hls::stream<tap<vec<T, C> > > &in, hls::stream<vec<OutT, C> > &out, const RecT *recip) {
  SumT sum[C];
#pragma HLS ARRAY_PARTITION variable = sum complete
  int n = 0;
  for (int i = 0; i < PIXELS * TAPS; ++i) {
#pragma HLS PIPELINE II = 1
    const int t = i % TAPS;
    const tap<vec<T, C> > x = in.read();
    if (t == 0) n = 0;
    if (!x.pad) ++n;
    for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
      const SumT prev = t == 0 ? SumT(0) : sum[c];
      sum[c] = x.pad ? prev : SumT(prev + SumT(x.data.v[c]));
    }
    if (t == TAPS - 1) {
      vec<OutT, C> o;
      for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
        o.v[c] = OutT(sum[c] * recip[n]);
      }
      out.write(o);
    }
  }
}

// One stream to two (a value read by two layers, e.g. a residual shortcut). The copy that
// bypasses the longer branch needs a FIFO deep enough for that branch's latency: the emitted
// top function sizes it with #pragma HLS STREAM.
template <class T, int PIXELS>
void fork2(hls::stream<T> &in, hls::stream<T> &a, hls::stream<T> &b) {
  for (int p = 0; p < PIXELS; ++p) {
#pragma HLS PIPELINE II = 1
    const T x = in.read();
    a.write(x);
    b.write(x);
  }
}

// Element-wise sum of two fixed-point streams, exact in TO (the lowering makes TO wide enough),
// then the fused activation.
template <class TA, class TB, class TO, int C, int PIXELS, class Post>
void add(hls::stream<vec<TA, C> > &a, hls::stream<vec<TB, C> > &b, hls::stream<vec<TO, C> > &out) {
  for (int p = 0; p < PIXELS; ++p) {
#pragma HLS PIPELINE II = 1
    const vec<TA, C> x = a.read();
    const vec<TB, C> y = b.read();
    vec<TO, C> o;
    for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
      o.v[c] = Post::apply(TO(TO(x.v[c]) + TO(y.v[c])));
    }
    out.write(o);
  }
}

// Concatenation along channels: a's channels, then b's (NHWC). Bits: a's channel count is a
// multiple of 32 when the CPU concatenates bitpacked words (the lowering checks it).
template <int CA, int CB, int PIXELS>
void concat(hls::stream<ap_uint<CA> > &a, hls::stream<ap_uint<CB> > &b, hls::stream<ap_uint<CA + CB> > &out) {
  for (int p = 0; p < PIXELS; ++p) {
#pragma HLS PIPELINE II = 1
    const ap_uint<CA> x = a.read();
    const ap_uint<CB> y = b.read();
    out.write((y, x));
  }
}
template <class TA, class TB, class TO, int CA, int CB, int PIXELS>
void concat(hls::stream<vec<TA, CA> > &a, hls::stream<vec<TB, CB> > &b, hls::stream<vec<TO, CA + CB> > &out) {
  for (int p = 0; p < PIXELS; ++p) {
#pragma HLS PIPELINE II = 1
    const vec<TA, CA> x = a.read();
    const vec<TB, CB> y = b.read();
    vec<TO, CA + CB> o;
    for (int c = 0; c < CA; ++c) {
#pragma HLS UNROLL
      o.v[c] = TO(x.v[c]);
    }
    for (int c = 0; c < CB; ++c) {
#pragma HLS UNROLL
      o.v[CA + c] = TO(y.v[c]);
    }
    out.write(o);
  }
}

// Split along channels: the first CA channels to a, the other CB to b (one SPLIT op into N
// parts is a chain of these).
template <int CA, int CB, int PIXELS>
void split(hls::stream<ap_uint<CA + CB> > &in, hls::stream<ap_uint<CA> > &a, hls::stream<ap_uint<CB> > &b) {
  for (int p = 0; p < PIXELS; ++p) {
#pragma HLS PIPELINE II = 1
    const ap_uint<CA + CB> x = in.read();
    a.write(x.range(CA - 1, 0));
    b.write(x.range(CA + CB - 1, CA));
  }
}
template <class T, int CA, int CB, int PIXELS>
void split(hls::stream<vec<T, CA + CB> > &in, hls::stream<vec<T, CA> > &a, hls::stream<vec<T, CB> > &b) {
  for (int p = 0; p < PIXELS; ++p) {
#pragma HLS PIPELINE II = 1
    const vec<T, CA + CB> x = in.read();
    vec<T, CA> xa;
    vec<T, CB> xb;
    for (int c = 0; c < CA; ++c) {
#pragma HLS UNROLL
      xa.v[c] = x.v[c];
    }
    for (int c = 0; c < CB; ++c) {
#pragma HLS UNROLL
      xb.v[c] = x.v[CA + c];
    }
    a.write(xa);
    b.write(xb);
  }
}

// Zero padding of a fixed-point map (tfl.pad): PT/PB rows, PL/PR columns and CB/CA channels
// before/after.
template <class T, int C, int IH, int IW, int PT, int PB, int PL, int PR, int CB, int CA>
void pad(hls::stream<vec<T, C> > &in, hls::stream<vec<T, CB + C + CA> > &out) {
  for (int i = 0; i < (IH + PT + PB) * (IW + PL + PR); ++i) {
#pragma HLS PIPELINE II = 1
    const int y = i / (IW + PL + PR) - PT, x = i % (IW + PL + PR) - PL;
    vec<T, CB + C + CA> o;
    set_zero(o);
    if (y >= 0 && y < IH && x >= 0 && x < IW) {
      const vec<T, C> v = in.read();
      for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
        o.v[CB + c] = v.v[c];
      }
    }
    out.write(o);
  }
}

// Sign of fixed-point values: bit 1 (-1) iff x < 0 (so 0 gives +1, like larq's sign).
template <class T, int C, int PIXELS>
void sign(hls::stream<vec<T, C> > &in, hls::stream<ap_uint<C> > &out) {
  for (int p = 0; p < PIXELS; ++p) {
#pragma HLS PIPELINE II = 1
    const vec<T, C> x = in.read();
    ap_uint<C> o;
    for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
      o[c] = x.v[c] < 0 ? 1 : 0;
    }
    out.write(o);
  }
}

// Bits to +-1 values.
template <int C, int PIXELS>
void dequantize(hls::stream<ap_uint<C> > &in, hls::stream<vec<ap_int<2>, C> > &out) {
  for (int p = 0; p < PIXELS; ++p) {
#pragma HLS PIPELINE II = 1
    const ap_uint<C> x = in.read();
    vec<ap_int<2>, C> o;
    for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
      o.v[c] = x[c] ? -1 : 1;
    }
    out.write(o);
  }
}

// Flatten (NHWC order): P pixels of C channels become one pixel of P*C channels.
template <int C, int P>
void flatten(hls::stream<ap_uint<C> > &in, hls::stream<ap_uint<C * P> > &out) {
  ap_uint<C * P> o = 0;
  for (int p = 0; p < P; ++p) {
#pragma HLS PIPELINE II = 1
    o.range(p * C + C - 1, p * C) = in.read();
  }
  out.write(o);
}
template <class T, int C, int P>
void flatten(hls::stream<vec<T, C> > &in, hls::stream<vec<T, C * P> > &out) {
  vec<T, C * P> o;
  for (int p = 0; p < P; ++p) {
#pragma HLS PIPELINE II = 1
    const vec<T, C> x = in.read();
    for (int c = 0; c < C; ++c) o.v[p * C + c] = x.v[c];
  }
  out.write(o);
}

#ifndef __SYNTHESIS__
// C-simulation I/O: bits as little-endian 32-bit words per pixel (channel c = bit c%32 of word
// c/32, the CPU's bitpacked layout), fixed-point values as doubles.
template <int C>
inline void write_pixel(FILE *f, const ap_uint<C> &x) {
  for (int w = 0; w < (C + 31) / 32; ++w) {
    const int lo = 32 * w, hi = lo + 31 < C ? lo + 31 : C - 1;
    const uint32_t v = (uint32_t)x.range(hi, lo).to_uint64();
    fwrite(&v, 4, 1, f);
  }
}
template <class T, int C>
inline void write_pixel(FILE *f, const vec<T, C> &x) {
  for (int c = 0; c < C; ++c) {
    const double d = x.v[c].to_double();
    fwrite(&d, 8, 1, f);
  }
}
template <class T, int C>
inline bool read_pixel(FILE *f, vec<T, C> &x) {
  for (int c = 0; c < C; ++c) {
    double d;
    if (fread(&d, 8, 1, f) != 1) return false;
    x.v[c] = d;  // T's quantization and overflow modes apply here
  }
  return true;
}

// Per-layer trace: append the stream's current contents to <dir>/<name>.bin and put them back,
// so that the next unit still reads them (C-simulation runs the dataflow units in order).
extern const char *trace_dir;
template <class T>
void trace(hls::stream<T> &s, const char *name) {
  if (!trace_dir) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.bin", trace_dir, name);
  FILE *f = fopen(path, "ab");
  if (!f) return;
  const int n = (int)s.size();
  for (int i = 0; i < n; ++i) {
    const T x = s.read();
    write_pixel(f, x);
    s.write(x);
  }
  fclose(f);
}
#endif

}  // namespace lce_hls

#endif  // LCE_HLS_H
