# df11fs - lossless BF16 model weights, mounted transparently.
#   make            build/libdf11.a, build/df11, build/df11fs (+ CUDA when nvcc exists)
#   make NO_CUDA=1  CPU-only build
#   make test       build, then run every test (ends with "N passed, N failed")
#   make asan       ASan+UBSan build in build-asan/, then run the tests with it
#   make fuzz       libFuzzer targets in build-fuzz/ (clang)
#   make bench      benchmarks (bench/README.md)

BUILD   ?= build
CC      ?= cc
OPT     ?= -O2
CFLAGS  ?=
# -fPIC: the same objects make libdf11.a and libdf11.so.
override CFLAGS += -std=c11 $(OPT) -g -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -fPIC $(KERNEL_DEFS)
# codec/, kernels/ and the tests see the library's internals; fs/, tools/
# and bench/ see one folder holding only the public header, so "only
# codec/df11.h" is enforced by the compiler, not by convention.
INTERNAL_INC := -Icodec
PUBLIC_INC   := -I$(BUILD)/include
SONAME  := libdf11.so.1
PKGS    := libcjson libzstd libxxhash libcrypto
LIBS    := $(shell pkg-config --libs $(PKGS)) -lm -pthread
CPU_LIBS := $(LIBS)
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3)
FUSE_LIBS   := $(shell pkg-config --libs fuse3)
# libdf11store (store/) reaches HTTP(S) and S3 origins through libcurl.
STORE_LIBS  := $(BUILD)/libdf11store.a
CURL_LIBS   := $(shell pkg-config --libs libcurl)

# CUDA: used when nvcc is found and NO_CUDA is not set. cudart is linked
# statically so the binaries start on machines with no CUDA runtime at all.
NVCC ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
ifeq ($(NO_CUDA),1)
NVCC :=
endif
CUDA_ARCHS  ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
# KERNEL_DEFS: -D switches of the kernels and their CPU model (e.g.
# -DDF11_LANE_AHEAD=4, kernels/lane_decode.h), given to nvcc, the fake and cc.
KERNEL_DEFS ?=
NVCCFLAGS   ?= -O3 -std=c++17 $(CUDA_ARCHS) -Xcompiler -Wall,-Wextra,-Werror,-fPIC -Icodec -Ikernels $(KERNEL_DEFS)

CODEC_SRC  := $(wildcard codec/common/*.c codec/compress/*.c codec/decompress/*.c)
STORE_SRC  := $(wildcard store/*.c)
FS_SRC     := $(wildcard fs/*.c)
TOOLS_SRC  := $(wildcard tools/*.c)
# kernels/gpu_emul.c, the CPU model of the kernel, is in every build.
ifneq ($(NVCC),)
KERNEL_SRC := $(wildcard kernels/*.cu)
KERNEL_OBJ := $(KERNEL_SRC:%.cu=$(BUILD)/%.o) $(BUILD)/kernels/gpu_emul.o
CUDA_HOME  := $(patsubst %/bin/nvcc,%,$(NVCC))
override CFLAGS += -DDF11_HAVE_CUDA=1
LIBS       += -L$(CUDA_HOME)/lib64 -L$(CUDA_HOME)/targets/x86_64-linux/lib -lcudart_static -ldl -lrt -lstdc++
else
KERNEL_SRC := $(wildcard kernels/*_stub.c) kernels/gpu_emul.c
KERNEL_OBJ := $(KERNEL_SRC:%.c=$(BUILD)/%.o)
endif

CODEC_OBJ := $(CODEC_SRC:%.c=$(BUILD)/%.o)
STORE_OBJ := $(STORE_SRC:%.c=$(BUILD)/%.o)
FS_OBJ    := $(FS_SRC:%.c=$(BUILD)/%.o)
TOOLS_OBJ := $(TOOLS_SRC:%.c=$(BUILD)/%.o)

# Test and bench programs: one C file each, linked against libdf11.
TEST_C    := $(wildcard tests/c/*.c)
TEST_BIN  := $(TEST_C:tests/c/%.c=$(BUILD)/tests/%)
# Helper programs the test scripts call (not test cases themselves).
TTOOL_C   := $(wildcard tests/tools/*.c)
TTOOL_BIN := $(TTOOL_C:tests/tools/%.c=$(BUILD)/testtools/%)
BENCH_C   := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_C:bench/%.c=$(BUILD)/bench/%)
GPU_BENCH := $(BUILD)/bench/gpu_bench
# gpu_diff once more, against kernels/batch.cu's host code compiled as
# plain C++ on a CPU fake of the CUDA runtime (kernels/fake_cuda.h): the
# slot pool, the device table cache, copy out, device mode and CUDA
# failures run in every build, with or without a GPU.
GPU_FAKE  := $(BUILD)/tests/gpu_diff_fake
# bench.cu too: gpu_diff --ans-il-bench times the ANS_IL kernels with it.
FAKE_OBJ  := $(BUILD)/kernels/fake/batch.o $(BUILD)/kernels/fake/fake_cuda.o $(BUILD)/kernels/fake/bench.o
FAKE_CXXFLAGS = -std=c++17 $(OPT) -g -Wall -Wextra -Werror -fPIC -pthread -DDF11_FAKE_CUDA -Icodec -Ikernels $(KERNEL_DEFS) \
  $(filter -fsanitize% -fno-sanitize% -fno-omit-frame-pointer,$(CFLAGS))

all: $(BUILD)/libdf11.a $(BUILD)/libdf11store.a $(BUILD)/$(SONAME) $(BUILD)/df11 $(BUILD)/df11fs $(TEST_BIN) $(TTOOL_BIN) $(BENCH_BIN) $(GPU_BENCH) $(GPU_FAKE)

$(BUILD)/include/df11.h: codec/df11.h
	@mkdir -p $(@D)
	cp $< $@

$(BUILD)/include/df11store.h: store/df11store.h
	@mkdir -p $(@D)
	cp $< $@

$(BUILD)/libdf11.a: $(CODEC_OBJ) $(KERNEL_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libdf11store.a: $(STORE_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# The shared library (Python binds it with ctypes): only the df11_*
# symbols of df11.h are meant to be used, the soname moves with ABI breaks.
$(BUILD)/$(SONAME): $(CODEC_OBJ) $(KERNEL_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LIBS)
	ln -sf $(SONAME) $(BUILD)/libdf11.so

$(BUILD)/df11: $(TOOLS_OBJ) $(STORE_LIBS) $(BUILD)/libdf11.a
	$(CC) $(CFLAGS) -o $@ $(TOOLS_OBJ) $(STORE_LIBS) $(BUILD)/libdf11.a $(CURL_LIBS) $(LIBS)

$(BUILD)/df11fs: $(FS_OBJ) $(STORE_LIBS) $(BUILD)/libdf11.a
	$(CC) $(CFLAGS) -o $@ $(FS_OBJ) $(STORE_LIBS) $(BUILD)/libdf11.a $(FUSE_LIBS) $(CURL_LIBS) $(LIBS)

$(BUILD)/tests/%: tests/c/%.c $(BUILD)/libdf11.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INTERNAL_INC) $(FUSE_CFLAGS) -o $@ $< $(BUILD)/libdf11.a $(LIBS) $(shell pkg-config --libs check 2>/dev/null)

# store tests see store/'s internals (store/int.h) and link libdf11store.
$(BUILD)/tests/store_%: tests/c/store_%.c $(STORE_LIBS) $(BUILD)/libdf11.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INTERNAL_INC) -Istore -o $@ $< $(STORE_LIBS) $(BUILD)/libdf11.a $(CURL_LIBS) $(LIBS)

$(BUILD)/testtools/%: tests/tools/%.c $(BUILD)/libdf11.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INTERNAL_INC) $(FUSE_CFLAGS) -o $@ $< $(BUILD)/libdf11.a $(FUSE_LIBS) $(LIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libdf11.a $(BUILD)/include/df11.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PUBLIC_INC) $(FUSE_CFLAGS) -o $@ $< $(BUILD)/libdf11.a $(FUSE_LIBS) $(LIBS)

# The fs core without FUSE (everything but the front end) for its unit test.
FS_CORE_OBJ := $(filter-out $(BUILD)/fs/main.o $(BUILD)/fs/ops.o $(BUILD)/fs/watch.o,$(FS_OBJ))
$(BUILD)/tests/fs_core: tests/c/fs_core.c $(FS_CORE_OBJ) $(STORE_LIBS) $(BUILD)/libdf11.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INTERNAL_INC) -I$(BUILD)/include -o $@ $< $(FS_CORE_OBJ) $(STORE_LIBS) $(BUILD)/libdf11.a $(CURL_LIBS) $(LIBS)

# The GPU benchmark drives the kernels' own seam (kernels/df11_cuda.h), so
# it lives in kernels/ and is built with the internal include path.
$(GPU_BENCH): kernels/gpu_bench.c $(BUILD)/libdf11.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INTERNAL_INC) -Ikernels -o $@ $< $(BUILD)/libdf11.a $(LIBS)

$(BUILD)/kernels/fake/batch.o: kernels/batch.cu
	@mkdir -p $(@D)
	$(CXX) $(FAKE_CXXFLAGS) -MMD -MP -x c++ -c -o $@ $<

$(BUILD)/kernels/fake/%.o: kernels/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(FAKE_CXXFLAGS) -MMD -MP -c -o $@ $<

$(GPU_FAKE): tests/c/gpu_diff.c $(FAKE_OBJ) $(BUILD)/libdf11.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INTERNAL_INC) -o $@ $< $(FAKE_OBJ) $(BUILD)/libdf11.a $(LIBS) -lstdc++

# gpu_bench on the fake, for kernels/gpu_check.sh --dry-run (not in all:
# its timings are CPU times and mean nothing).
$(BUILD)/kernels/fake/bench.o: kernels/bench.cu
	@mkdir -p $(@D)
	$(CXX) $(FAKE_CXXFLAGS) -MMD -MP -x c++ -c -o $@ $<

$(BUILD)/bench/gpu_bench_fake: kernels/gpu_bench.c $(FAKE_OBJ) $(BUILD)/libdf11.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INTERNAL_INC) -Ikernels -o $@ $< $(FAKE_OBJ) $(BUILD)/libdf11.a $(LIBS) -lstdc++

# store/ is built like its users: only the public df11.h on the path.
$(BUILD)/store/%.o: store/%.c $(BUILD)/include/df11.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PUBLIC_INC) -MMD -MP -c -o $@ $<

$(BUILD)/fs/%.o: fs/%.c $(BUILD)/include/df11.h $(BUILD)/include/df11store.h $(BUILD)/include/df11store.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PUBLIC_INC) $(FUSE_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tools/%.o: tools/%.c $(BUILD)/include/df11.h $(BUILD)/include/df11store.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PUBLIC_INC) -MMD -MP -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INTERNAL_INC) -MMD -MP -c -o $@ $<

# -MMD -MP: a .cu object is rebuilt when a header it includes changes
# (kernels/*.h, codec/common/ans.h, lanes.h), like the C objects.
$(BUILD)/%.o: %.cu
	@mkdir -p $(@D)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -MF $(@:.o=.d) -c -o $@ $<

test: all
	BUILD=$(BUILD) tests/run

asan:
	$(MAKE) BUILD=build-asan NO_CUDA=1 OPT=-O1 \
	  CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  test

FUZZ_C := $(wildcard tests/fuzz/fuzz_*.c)
fuzz:
	$(MAKE) BUILD=build-fuzz NO_CUDA=1 CC=clang OPT=-O1 \
	  CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" build-fuzz/libdf11.a
	@mkdir -p build-fuzz/fuzz
	for f in $(FUZZ_C); do \
	  clang -std=c11 -O1 -g -D_GNU_SOURCE -Icodec -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -o build-fuzz/fuzz/$$(basename $$f .c) $$f build-fuzz/libdf11.a $(CPU_LIBS) || exit 1; \
	done

bench: all
	BUILD=$(BUILD) bench/run

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all test asan fuzz bench clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- install / uninstall --------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=]: df11 and df11fs, libdf11 (static,
# and shared with its soname), df11.h, a pkg-config file, the man pages df11(1)
# and df11fs(8), and the mount helper mount.fuse.df11fs, which mount(8) looks
# for in /sbin only (not under PREFIX): with it, "mount -t fuse.df11fs" and
# fstab lines of type fuse.df11fs work. make uninstall removes exactly these.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
MOUNT_HELPER_DIR ?= /sbin
MOUNT_FUSE3 ?= $(shell command -v mount.fuse3 2>/dev/null || echo /sbin/mount.fuse3)
DF11_VERSION := $(shell sed -n 's/^\#define DF11_LIB_VERSION "\(.*\)"/\1/p' codec/df11.h)
INSTALLED := $(BINDIR)/df11 $(BINDIR)/df11fs $(LIBDIR)/libdf11.a $(LIBDIR)/$(SONAME) \
  $(LIBDIR)/libdf11.so $(INCLUDEDIR)/df11.h $(LIBDIR)/pkgconfig/df11.pc \
  $(MANDIR)/man1/df11.1 $(MANDIR)/man8/df11fs.8 $(MOUNT_HELPER_DIR)/mount.fuse.df11fs

install: $(BUILD)/df11 $(BUILD)/df11fs $(BUILD)/libdf11.a $(BUILD)/$(SONAME)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MOUNT_HELPER_DIR)
	install -m 755 $(BUILD)/df11 $(BUILD)/df11fs $(DESTDIR)$(BINDIR)/
	install -m 644 $(BUILD)/libdf11.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/$(SONAME) $(DESTDIR)$(LIBDIR)/
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libdf11.so
	install -m 644 codec/df11.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  -e 's|@VERSION@|$(DF11_VERSION)|; s|@REQUIRES@|$(PKGS)|' \
	  -e 's|@LIBS_PRIVATE@|$(strip $(filter-out $(shell pkg-config --libs $(PKGS)),$(LIBS)))|' \
	  codec/df11.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/df11.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/df11.pc
	install -m 644 doc/man/df11.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 doc/man/df11fs.8 $(DESTDIR)$(MANDIR)/man8/
	sed -e 's|@BINDIR@|$(BINDIR)|; s|@MOUNT_FUSE3@|$(MOUNT_FUSE3)|' tools/mount.fuse.df11fs.in \
	  >$(DESTDIR)$(MOUNT_HELPER_DIR)/mount.fuse.df11fs
	chmod 755 $(DESTDIR)$(MOUNT_HELPER_DIR)/mount.fuse.df11fs
	@if [ -z "$(DESTDIR)" ] && command -v ldconfig >/dev/null; then ldconfig; fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@if [ -z "$(DESTDIR)" ] && command -v ldconfig >/dev/null; then ldconfig; fi

.PHONY: install uninstall
