import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dialectOf } from '../../src/core/dialect';

describe('which files are parsed as C++', () => {
  it('follows the extension, and the cpp-files globs', () => {
    for (const f of ['a.cc', 'a.cpp', 'a.cxx', 'a.hpp', 'a.hh', 'a.C', 'dir/a.ipp']) assert.equal(dialectOf(f, ''), 'cpp', f);
    for (const f of ['a.c', 'a.h', 'a.inc']) assert.equal(dialectOf(f, ''), 'c', f);
    assert.equal(dialectOf('/p/include/lib/x.h', '', ['include/lib/*.h']), 'cpp');
    assert.equal(dialectOf('/p/src/x.h', '', ['include/lib/*.h']), 'c');
  });

  it('reads a header as C++ when its text says so: a mode line, or C++ syntax outside __cplusplus blocks', () => {
    assert.equal(dialectOf('x.h', '// -*- C++ -*-\nint f(void);\n'), 'cpp');
    assert.equal(dialectOf('x.h', 'namespace lib {\nint f();\n}\n'), 'cpp');
    assert.equal(dialectOf('x.h', 'template <typename T> T id(T x) { return x; }\n'), 'cpp');
    assert.equal(dialectOf('x.h', 'extern "C" {\nint f(void);\n}\n'), 'cpp');
    assert.equal(dialectOf('x.h', 'static int f(void) { return static_cast<int>(1.0); }\n'), 'cpp');
  });

  it('keeps a C header C when its C++ is in a __cplusplus block, a directive or a comment', () => {
    assert.equal(dialectOf('x.h', '#ifdef __cplusplus\nextern "C" {\n#endif\nint f(void);\n#ifdef __cplusplus\n}\n#endif\n'), 'c');
    assert.equal(dialectOf('x.h', '#if defined(__cplusplus) && __cplusplus >= 201103L\n#  define MY_NULL nullptr\n#else\n#  define MY_NULL NULL\n#endif\nint new_ = 0;\n'), 'c');
    assert.equal(dialectOf('x.h', '#define NULLPTR nullptr\nint f(void);\n'), 'c');
    assert.equal(dialectOf('x.h', '/* namespace lib { is for C++ users */\nint f(void);\n'), 'c');
    assert.equal(dialectOf('x.h', '#if !defined(__cplusplus)\nint class_ = 1;\n#endif\n'), 'c');
  });
});
