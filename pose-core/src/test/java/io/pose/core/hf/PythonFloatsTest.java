package io.pose.core.hf;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Expected strings are what CPython 3.11 prints for repr(x). */
class PythonFloatsTest {

  @Test
  void matchesPythonRepr() {
    assertThat(PythonFloats.repr(1e-05)).isEqualTo("1e-05");
    assertThat(PythonFloats.repr(1e-06)).isEqualTo("1e-06");
    assertThat(PythonFloats.repr(0.0001)).isEqualTo("0.0001");
    assertThat(PythonFloats.repr(0.02)).isEqualTo("0.02");
    assertThat(PythonFloats.repr(10000.0)).isEqualTo("10000.0");
    assertThat(PythonFloats.repr(1e7)).isEqualTo("10000000.0");
    assertThat(PythonFloats.repr(1e16)).isEqualTo("1e+16");
    assertThat(PythonFloats.repr(1.5e-7)).isEqualTo("1.5e-07");
    assertThat(PythonFloats.repr(4.0)).isEqualTo("4.0");
    assertThat(PythonFloats.repr(-2.5)).isEqualTo("-2.5");
    assertThat(PythonFloats.repr(0.0)).isEqualTo("0.0");
    assertThat(PythonFloats.repr(10431.9281)).isEqualTo("10431.9281");
    assertThat(PythonFloats.repr(1.2345678901234568e17)).isEqualTo("1.2345678901234568e+17");
  }

  @Test
  void matchesPythonReprAtTheEdges() {
    assertThat(PythonFloats.repr(-0.0)).isEqualTo("-0.0");
    assertThat(PythonFloats.repr(1e-10)).isEqualTo("1e-10");
    assertThat(PythonFloats.repr(1e-9)).isEqualTo("1e-09");
    assertThat(PythonFloats.repr(-1e-10)).isEqualTo("-1e-10");
    assertThat(PythonFloats.repr(1e100)).isEqualTo("1e+100");
    assertThat(PythonFloats.repr(9999999999999998.0)).isEqualTo("9999999999999998.0");
    assertThat(PythonFloats.repr(Double.NaN)).isEqualTo("NaN");
    assertThat(PythonFloats.repr(Double.POSITIVE_INFINITY)).isEqualTo("Infinity");
    assertThat(PythonFloats.repr(Double.NEGATIVE_INFINITY)).isEqualTo("-Infinity");
  }
}
