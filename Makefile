# The two commands a newcomer needs (README.md):
#   make run    install Debian packages if missing, build, and start LayerScope on the bundled demo model
#   make test   install Debian packages if missing, build, and run every test
# and:
#   make test-cluster  a real one-host Slurm array job with a killed and resumed task (tests/cluster)
#   make bench  the benchmarks, which print figures
#   make asan   the whole test suite built with AddressSanitizer and UBSan (build-asan/)
#   make fuzz   the fuzz targets (tests/fuzz) with clang's libFuzzer, FUZZ_SECONDS each (build-fuzz/)
#   make format the C++ sources formatted by .clang-format; make format-check only checks

BUILD_DIR ?= build
JOBS ?= 2
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

PACKAGES := g++ cmake ninja-build pkg-config ccache make \
            libtorch-dev qt6-base-dev qt6-qpa-plugins qt6-svg-dev libqcustomplot-dev libopencv-dev \
            libzip-dev libcli11-dev libmatio-dev libssl-dev nlohmann-json3-dev libgoogle-perftools-dev libhdf5-dev libonnx-dev libprotobuf-dev \
            python3 python3-torch python3-torchvision python3-numpy python3-scipy \
            python3-opencv python3-pil python3-skimage python3-matplotlib python3-h5py python3-onnx dataset-fashion-mnist
# Only for `make fuzz`.
FUZZ_PACKAGES := clang libclang-rt-14-dev
# Only for `make test-cluster` (and `make test` in CI): a one-host Slurm in a temporary folder.
CLUSTER_PACKAGES := slurmctld slurmd slurm-client munge
# Only for `make format` and `make format-check`.
FORMAT_PACKAGES := clang-format
FORMATTED = $(shell git ls-files 'app/*.cpp' 'app/*.h' 'core/*.cpp' 'core/*.h' 'ui/*.cpp' 'ui/*.h' 'tests/*.cpp' 'tests/*.h' | grep -v '^tests/fuzz/regressions/')
FUZZ_SECONDS ?= 60
# vptr off: UBSan's dynamic-type check needs the typeinfo of LibTorch classes it does not export
# (c10::DynamicType), and the link fails without it.
SANITIZE := -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined -fno-omit-frame-pointer

.PHONY: deps fuzz-deps format-deps cluster-deps build run test test-cluster bench asan fuzz format format-check clean

# Idempotent and quick when everything is present: apt-get runs only for what is missing.
deps fuzz-deps format-deps cluster-deps: WANTED = $(if $(filter fuzz-deps,$@),$(FUZZ_PACKAGES),$(if $(filter format-deps,$@),$(FORMAT_PACKAGES),$(if $(filter cluster-deps,$@),$(CLUSTER_PACKAGES),$(PACKAGES))))
deps fuzz-deps format-deps cluster-deps:
	@missing=$$(for p in $(WANTED); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "Installing Debian packages:" $$missing; \
	    $(SUDO) apt-get update -q && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/app/layerscope

# In CI (CI=true) the cluster test runs too: about 30 s.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600
	@if [ "$(CI)" = true ]; then $(MAKE) --no-print-directory cluster-deps && $(SUDO) tests/cluster/run.sh $(BUILD_DIR); fi

# munged, slurmctld and slurmd as plain processes in a temporary folder; slurmd runs jobs as their
# users, so it needs root (sudo when not root).
test-cluster: build cluster-deps
	$(SUDO) tests/cluster/run.sh $(BUILD_DIR)

bench: build
	$(BUILD_DIR)/tests/benchmarks/bench_capture_overhead
	$(BUILD_DIR)/tests/benchmarks/bench_cam
	test -f $(BUILD_DIR)/bench/resnet18.onnx || /usr/bin/python3 tests/benchmarks/make_resnet18_onnx.py $(BUILD_DIR)/bench
	$(BUILD_DIR)/tests/benchmarks/bench_onnx $(BUILD_DIR)/bench/resnet18.onnx $(BUILD_DIR)/bench/resnet18.pt
	QT_QPA_PLATFORM=offscreen $(BUILD_DIR)/tests/benchmarks/bench_feature_grid
	test -f $(BUILD_DIR)/bench/densenet121.pt || /usr/bin/python3 tests/benchmarks/make_densenet.py $(BUILD_DIR)/bench/densenet121.pt
	QT_QPA_PLATFORM=offscreen $(BUILD_DIR)/tests/benchmarks/bench_click_to_picture $(BUILD_DIR)/tests/fixtures/resnet18_scripted/model.pt \
	    $(BUILD_DIR)/bench/densenet121.pt $(BUILD_DIR)/tests/fixtures/images/photo.jpg
	/usr/bin/python3 tests/benchmarks/bench_extraction.py $(BUILD_DIR)
	/usr/bin/python3 tests/benchmarks/bench_extraction_memory.py $(BUILD_DIR)
	/usr/bin/python3 tests/benchmarks/bench_merge.py $(BUILD_DIR)
	/usr/bin/python3 tests/benchmarks/bench_atlas.py $(BUILD_DIR)
	QT_QPA_PLATFORM=offscreen $(BUILD_DIR)/tests/benchmarks/bench_atlas_open $(BUILD_DIR)/bench/jpegs $(BUILD_DIR)/bench

# The C++ sources formatted as .clang-format says (clang-format 14, Debian 12).
format: format-deps
	clang-format -i --style=file $(FORMATTED)

format-check: format-deps
	clang-format --dry-run --Werror --style=file $(FORMATTED)

# tcmalloc and ASan's allocator exclude each other. Leak checking is off: LibTorch and Qt keep
# process-lifetime allocations on purpose.
asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAYERSCOPE_TCMALLOC=OFF \
	    -DCMAKE_CXX_FLAGS="$(SANITIZE)" -DCMAKE_EXE_LINKER_FLAGS="$(SANITIZE)"
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ctest --output-on-failure --timeout 1800

# Each target starts from its generated seed corpus plus the regression inputs; what it finds goes
# to build-fuzz/findings/TARGET/. Reproduce one with build-fuzz/TARGET FILE.
FUZZ_TARGETS := fuzz_npy fuzz_image fuzz_modelfile fuzz_pt fuzz_cli fuzz_onnx
fuzz: deps fuzz-deps
	CXX=clang++ cmake -S tests/fuzz -B build-fuzz -G Ninja
	cmake --build build-fuzz -j $(JOBS)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p build-fuzz/corpus/$$t build-fuzz/findings/$$t; \
	    echo "== $$t: $(FUZZ_SECONDS) s"; \
	    build-fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
	        -artifact_prefix=build-fuzz/findings/$$t/ build-fuzz/corpus/$$t build-fuzz/seeds/$$t \
	        tests/fuzz/regressions/$${t#fuzz_} > build-fuzz/$$t.log 2>&1; rc=$$?; \
	    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done)" build-fuzz/$$t.log; \
	    [ $$rc -eq 0 ] || { tail -40 build-fuzz/$$t.log; exit 1; }; \
	done

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
