"""Exact arithmetic for the HLS lowering: float32 parameters as exact dyadic rationals, and the
narrowest fixed-point formats that hold given values exactly. (Thresholds are the converter's:
the lowering reads them from the Bconv2d op, semantics.md.)

Everything here uses Python integers and `fractions.Fraction`."""
import math
from fractions import Fraction


def exact(x):
    """A finite float (float32 or float64) as an exact Fraction."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError("non-finite parameter %r" % x)
    return Fraction(x)


def frac_bits(q):
    """Fraction bits needed to hold the dyadic rational `q` exactly."""
    d = Fraction(q).denominator
    if d & (d - 1):
        raise ValueError("%s is not a dyadic rational" % q)
    return d.bit_length() - 1


class Fixed:
    """A signed (or unsigned) ap_fixed<W, I> type with quantization and overflow modes."""

    def __init__(self, W, I, signed=True, q="AP_TRN", o="AP_WRAP"):
        self.W, self.I, self.signed, self.q, self.o = int(W), int(I), signed, q, o
        if self.W < 1 or self.W > 1024:
            raise ValueError("fixed-point width %d out of range 1..1024" % self.W)

    @property
    def F(self):
        return self.W - self.I

    def cpp(self):
        base = "ap_fixed" if self.signed else "ap_ufixed"
        if self.q == "AP_TRN" and self.o == "AP_WRAP":
            return "%s<%d, %d>" % (base, self.W, self.I)
        return "%s<%d, %d, %s, %s>" % (base, self.W, self.I, self.q, self.o)

    def lsb(self):
        return Fraction(1, 2 ** self.F) if self.F >= 0 else Fraction(2 ** -self.F)

    def min(self):
        return -Fraction(2) ** (self.I - 1) if self.signed else Fraction(0)

    def max(self):
        return (Fraction(2) ** (self.I - 1) if self.signed else Fraction(2) ** self.I) - self.lsb()

    def holds(self, q):
        q = Fraction(q)
        return self.min() <= q <= self.max() and (q / self.lsb()).denominator == 1

    def __repr__(self):
        return self.cpp()

    def __eq__(self, other):
        return isinstance(other, Fixed) and self.cpp() == other.cpp()

    def __hash__(self):
        return hash(self.cpp())


QUANT_MODES = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_INF", "AP_RND_MIN_INF", "AP_RND_CONV")
OVERFLOW_MODES = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")


def parse_fixed(text):
    """'ap_fixed<16,8>' / 'ap_fixed<16, 8, AP_RND_CONV, AP_SAT>' / 'ap_ufixed<...>' -> Fixed."""
    s = str(text).replace(" ", "")
    for base, signed in (("ap_fixed<", True), ("ap_ufixed<", False)):
        if s.startswith(base) and s.endswith(">"):
            parts = s[len(base):-1].split(",")
            try:
                W, I = int(parts[0]), int(parts[1])
            except (ValueError, IndexError):
                break
            q = parts[2] if len(parts) > 2 else "AP_TRN"
            o = parts[3] if len(parts) > 3 else "AP_WRAP"
            if len(parts) > 5 or q not in QUANT_MODES or o not in OVERFLOW_MODES:
                break
            if not 1 <= W <= 53:
                raise ValueError("fixed-point type %r: width must be 1..53 (values cross C-simulation "
                                 "as doubles)" % text)
            return Fixed(W, I, signed, q, o)
    raise ValueError("not a fixed-point type: %r (expected e.g. 'ap_fixed<16,8,AP_RND_CONV,AP_SAT>'; "
                     "quantization modes %s, overflow modes %s)" % (text, ", ".join(QUANT_MODES),
                                                                     ", ".join(OVERFLOW_MODES)))


def format_for(values, extra_int_bits=0):
    """The narrowest signed ap_fixed<W, I> holding every dyadic value in `values` exactly."""
    vals = [Fraction(v) for v in values]
    F = max([frac_bits(v) for v in vals] + [0])
    I = 1
    for v in vals:
        while not (-Fraction(2) ** (I - 1) <= v <= Fraction(2) ** (I - 1) - Fraction(1, 2 ** F)):
            I += 1
    return Fixed(I + F + extra_int_bits, I + extra_int_bits)


def range_format(lo, hi, F):
    """Narrowest signed ap_fixed with F fraction bits holding [lo, hi]."""
    I = 1
    while not (-Fraction(2) ** (I - 1) <= lo and hi <= Fraction(2) ** (I - 1) - Fraction(1, 2 ** F)):
        I += 1
    return Fixed(I + F, I)


def cpp_literal(q, ctype):
    """An exact C++ expression of type `ctype` for the dyadic rational `q`: one double literal
    when q fits a double, else a sum of such parts (each exact in `ctype`)."""
    q = Fraction(q)
    parts = []
    while q != 0 and len(parts) < 40:
        f = float(q)
        parts.append(f)
        q -= Fraction(f)
    if q != 0:
        raise ValueError("constant too wide to emit exactly")
    if not parts:
        return "%s(0)" % ctype
    # repr() is the shortest decimal that reads back as the same double (C++ compilers round
    # decimal literals correctly), so each part is exact without C++17 hex-float literals.
    lit = [("%d" % int(f)) if f == int(f) and abs(f) < 2 ** 53 else repr(f) for f in parts]
    if len(lit) == 1:
        return "%s(%s)" % (ctype, lit[0])
    return "(" + " + ".join("%s(%s)" % (ctype, x) for x in lit) + ")"


def uint_bits(n):
    """Bits of the narrowest unsigned integer type holding 0..n."""
    return max(1, int(n).bit_length())
