// lce_hls.h: the header-only HLS template library that lce_convert's HLS lowering emits code
// against (Vitis HLS; C-simulation with g++ and the Xilinx ap_types headers).
//
// Conventions (the same integer semantics as the CPU kernels, see semantics.md):
// - A binary activation pixel is an ap_uint<C>: bit c is channel c, bit 1 means -1 and bit 0
//   means +1 (LCE's convention, so a CPU bitpacked word is the same bits).
// - A fixed-point pixel is a vec<T, C>.
// - Every unit processes one frame per call and streams one pixel (or one window tap) per
//   transfer, in raster order, so that the top function can be a #pragma HLS DATAFLOW region.
// - Binary matrix-vector units accumulate p = popcount(x XOR w) over the window (a zero-padded
//   tap word of SIMD bits adds SIMD/2, i.e. it contributes 0 to the +-1 dot product
//   conv = K - 2p). Thresholded output writes bit 1 (-1) iff p >= tau, tau in [0, K+1], held in
//   the narrowest unsigned type for K+1 and compared in a type that holds both.
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

// Binary max-pool: +1 wins, so in bits (1 = -1) the max is the AND of the window's valid taps.
template <int C, int PIXELS, int TAPS>
void bmaxpool(hls::stream<tap<ap_uint<C> > > &in, hls::stream<ap_uint<C> > &out) {
  for (int p = 0; p < PIXELS; ++p) {
    ap_uint<C> acc = ~ap_uint<C>(0);
    for (int t = 0; t < TAPS; ++t) {
#pragma HLS PIPELINE II = 1
      const tap<ap_uint<C> > x = in.read();
      if (!x.pad) acc &= x.data;
    }
    out.write(acc);
  }
}

// Max-pool of fixed-point values over the window's valid taps (TF ignores padded taps).
template <class T, int C, int PIXELS, int TAPS>
void maxpool(hls::stream<tap<vec<T, C> > > &in, hls::stream<vec<T, C> > &out) {
  for (int p = 0; p < PIXELS; ++p) {
    vec<T, C> acc;
    bool first = true;
    for (int t = 0; t < TAPS; ++t) {
#pragma HLS PIPELINE II = 1
      const tap<vec<T, C> > x = in.read();
      if (x.pad) continue;
      for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
        if (first || x.data.v[c] > acc.v[c]) acc.v[c] = x.data.v[c];
      }
      first = false;
    }
    out.write(acc);
  }
}

// Output stages ("activations") of the matrix-vector units. Each has out_t and
// set(out, channel, acc).

// Binary thresholds in the popcount domain: bit 1 (-1) iff p >= tau.
template <int C, class AccT, class ThrT, class CmpT>
struct ThresholdGE {
  typedef ap_uint<C> out_t;
  const ThrT *tau;
  ThresholdGE(const ThrT *t) : tau(t) {}
  void set(out_t &o, int c, const AccT &acc) const { o[c] = (CmpT(acc) >= CmpT(tau[c])) ? 1 : 0; }
};

// Thresholds on a fixed-point accumulator: bit 1 (-1) iff acc < T.
template <int C, class AccT, class ThrT>
struct ThresholdLT {
  typedef ap_uint<C> out_t;
  const ThrT *thr;
  ThresholdLT(const ThrT *t) : thr(t) {}
  void set(out_t &o, int c, const AccT &acc) const { o[c] = (acc < thr[c]) ? 1 : 0; }
};

// Fixed-point output: y = clamp(v * M + B, L, H) evaluated exactly in ZT, then cast to OutT
// (the only rounding/saturation, with OutT's modes). For binary units v = K - 2p (CONV_K = K);
// for fixed-point units v = acc (CONV_K = 0).
template <int C, int CONV_K, class AccT, class VT, class MT, class BT, class ZT, class OutT>
struct Affine {
  typedef vec<OutT, C> out_t;
  const MT *M;
  const BT *B;
  const ZT *L, *H;
  const bool *hasL, *hasH;
  Affine(const MT *m, const BT *b, const ZT *l, const ZT *h, const bool *hl, const bool *hh)
      : M(m), B(b), L(l), H(h), hasL(hl), hasH(hh) {}
  void set(out_t &o, int c, const AccT &acc) const {
    VT v;
    if (CONV_K > 0)
      v = VT(CONV_K) - VT(2) * VT(acc);
    else
      v = acc;
    ZT z = ZT(v) * ZT(M[c]) + ZT(B[c]);
    if (hasL[c] && z < L[c]) z = L[c];
    if (hasH[c] && z > H[c]) z = H[c];
    o.v[c] = OutT(z);
  }
};

// The TAPS taps of one output pixel's window, as the matrix-vector units buffer them.
template <int TAPS, class T>
inline void read_window(hls::stream<tap<T> > &in, tap<T> win[TAPS]) {
  for (int t = 0; t < TAPS; ++t) {
#pragma HLS PIPELINE II = 1
    win[t] = in.read();
  }
}

// Output stage of one neuron fold: channels nf*PE .. nf*PE + PE-1.
template <int PE, class Act, class AccT>
inline void activate(const Act &act, typename Act::out_t &o, int nf, const AccT acc[PE]) {
  for (int pe = 0; pe < PE; ++pe) {
#pragma HLS UNROLL
    act.set(o, nf * PE + pe, acc[pe]);
  }
}

// Binary (XNOR-popcount) matrix-vector unit with PE/SIMD folding over a window of TAPS taps of
// CI channels, GROUPS groups (CG = CI/GROUPS channels each). Weights: for output channel o and
// tap t, CG bits at bit offset ((o*TAPS + t) * WPR) * 64 of `w` (WPR 64-bit words per row).
// Channel o = nf*PE + pe. Cycles per pixel: (CO/PE) * (TAPS*CG/SIMD).
template <int CI, int CO, int TAPS, int GROUPS, int SIMD, int PE, int WPR, int PIXELS, class AccT, class Act>
void bmvau(hls::stream<tap<ap_uint<CI> > > &in, hls::stream<typename Act::out_t> &out, const uint64_t *w,
           const Act &act) {
  const int CG = CI / GROUPS, COG = CO / GROUPS, SF_TAP = CG / SIMD, SF = TAPS * SF_TAP, NF = CO / PE;
  for (int p = 0; p < PIXELS; ++p) {
    tap<ap_uint<CI> > win[TAPS];
    read_window<TAPS>(in, win);
    typename Act::out_t o;
    set_zero(o);
    for (int nf = 0; nf < NF; ++nf) {
      AccT acc[PE];
#pragma HLS ARRAY_PARTITION variable = acc complete
      for (int pe = 0; pe < PE; ++pe) acc[pe] = 0;
      for (int sf = 0; sf < SF; ++sf) {
#pragma HLS PIPELINE II = 1
        const int t = sf / SF_TAP, s0 = (sf % SF_TAP) * SIMD;
        for (int pe = 0; pe < PE; ++pe) {
#pragma HLS UNROLL
          const int oc = nf * PE + pe, g = oc / COG;
          if (win[t].pad) {
            acc[pe] += SIMD / 2;
          } else {
            const ap_uint<SIMD> x = win[t].data.range(g * CG + s0 + SIMD - 1, g * CG + s0);
            const ap_uint<SIMD> wv = bits_at<SIMD>(w, (oc * TAPS + t) * WPR * 64 + s0);
            acc[pe] += popcount<SIMD>(x ^ wv);
          }
        }
      }
      activate<PE>(act, o, nf, acc);
    }
    out.write(o);
  }
}

// A fixed-point weight from its raw two's-complement bits (weights are emitted as int64 raw
// values: fast to compile, exact).
template <class WT, int W>
inline WT from_raw(int64_t raw) {
  WT x;
  x.range(W - 1, 0) = ap_int<64>(raw).range(W - 1, 0);
  return x;
}

// Fixed-point matrix-vector unit (the non-binary first layer, a fixed-point classifier):
// acc = sum over taps and channels of w * x, exact in AccT; padded taps contribute 0.
// Weights: raw WT bits w[(o*TAPS + t)*CI + c].
template <int CI, int CO, int TAPS, int SIMD, int PE, int PIXELS, class XT, class WT, int WW, class AccT, class Act>
void fmvau(hls::stream<tap<vec<XT, CI> > > &in, hls::stream<typename Act::out_t> &out, const int64_t *w,
           const Act &act) {
  const int SF_TAP = CI / SIMD, SF = TAPS * SF_TAP, NF = CO / PE;
  for (int p = 0; p < PIXELS; ++p) {
    tap<vec<XT, CI> > win[TAPS];
    read_window<TAPS>(in, win);
    typename Act::out_t o;
    set_zero(o);
    for (int nf = 0; nf < NF; ++nf) {
      AccT acc[PE];
#pragma HLS ARRAY_PARTITION variable = acc complete
      for (int pe = 0; pe < PE; ++pe) acc[pe] = 0;
      for (int sf = 0; sf < SF; ++sf) {
#pragma HLS PIPELINE II = 1
        const int t = sf / SF_TAP, c0 = (sf % SF_TAP) * SIMD;
        if (win[t].pad) continue;
        for (int pe = 0; pe < PE; ++pe) {
#pragma HLS UNROLL
          const int oc = nf * PE + pe;
          for (int s = 0; s < SIMD; ++s) {
#pragma HLS UNROLL
            acc[pe] += AccT(from_raw<WT, WW>(w[(oc * TAPS + t) * CI + c0 + s]) * win[t].data.v[c0 + s]);
          }
        }
      }
      activate<PE>(act, o, nf, acc);
    }
    out.write(o);
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
// then an optional clamp to [LO, HI] (a fused ReLU variant).
template <class TA, class TB, class TO, int C, int PIXELS, bool HAS_LO, int LO, bool HAS_HI, int HI>
void add(hls::stream<vec<TA, C> > &a, hls::stream<vec<TB, C> > &b, hls::stream<vec<TO, C> > &out) {
  for (int p = 0; p < PIXELS; ++p) {
#pragma HLS PIPELINE II = 1
    const vec<TA, C> x = a.read();
    const vec<TB, C> y = b.read();
    vec<TO, C> o;
    for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
      TO z = TO(x.v[c]) + TO(y.v[c]);
      if (HAS_LO && z < TO(LO)) z = TO(LO);
      if (HAS_HI && z > TO(HI)) z = TO(HI);
      o.v[c] = z;
    }
    out.write(o);
  }
}

// Average pool (also a global mean: one window over the whole map): the exact sum of the valid
// taps times recip[count] (1/count, exact for powers of two), cast once to OutT.
template <class T, class SumT, class RecT, class OutT, int C, int PIXELS, int TAPS>
void avgpool(hls::stream<tap<vec<T, C> > > &in, hls::stream<vec<OutT, C> > &out, const RecT *recip) {
  for (int p = 0; p < PIXELS; ++p) {
    SumT sum[C];
#pragma HLS ARRAY_PARTITION variable = sum complete
    for (int c = 0; c < C; ++c) sum[c] = 0;
    int n = 0;
    for (int t = 0; t < TAPS; ++t) {
#pragma HLS PIPELINE II = 1
      const tap<vec<T, C> > x = in.read();
      if (x.pad) continue;
      ++n;
      for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
        sum[c] += SumT(x.data.v[c]);
      }
    }
    vec<OutT, C> o;
    for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
      o.v[c] = OutT(sum[c] * recip[n]);
    }
    out.write(o);
  }
}

// Depthwise fixed-point convolution (depth multiplier 1): channel c only sees input channel c.
// Weights: raw WT bits w[c*TAPS + t]. Cycles per pixel: (C/PE) * TAPS.
template <int C, int TAPS, int PE, int PIXELS, class XT, class WT, int WW, class AccT, class Act>
void fdwconv(hls::stream<tap<vec<XT, C> > > &in, hls::stream<typename Act::out_t> &out, const int64_t *w,
             const Act &act) {
  for (int p = 0; p < PIXELS; ++p) {
    tap<vec<XT, C> > win[TAPS];
    read_window<TAPS>(in, win);
    typename Act::out_t o;
    set_zero(o);
    for (int nf = 0; nf < C / PE; ++nf) {
      AccT acc[PE];
      for (int pe = 0; pe < PE; ++pe) acc[pe] = 0;
      for (int t = 0; t < TAPS; ++t) {
#pragma HLS PIPELINE II = 1
        if (win[t].pad) continue;
        for (int pe = 0; pe < PE; ++pe) {
#pragma HLS UNROLL
          const int c = nf * PE + pe;
          acc[pe] += AccT(from_raw<WT, WW>(w[c * TAPS + t]) * win[t].data.v[c]);
        }
      }
      activate<PE>(act, o, nf, acc);
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
