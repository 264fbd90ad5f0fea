# The two commands a newcomer needs (README.md):
#   make run    install Debian packages if missing, build, and start LayerScope on the bundled demo model
#   make test   install Debian packages if missing, build, and run every test
# and:
#   make bench  the benchmarks, which print figures

BUILD_DIR ?= build
JOBS ?= 2
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

PACKAGES := g++ cmake ninja-build pkg-config ccache make \
            libtorch-dev qt6-base-dev qt6-qpa-plugins qt6-svg-dev libqcustomplot-dev libopencv-dev \
            libzip-dev libcli11-dev libmatio-dev libssl-dev nlohmann-json3-dev libgoogle-perftools-dev \
            python3 python3-torch python3-torchvision python3-numpy python3-scipy \
            python3-opencv python3-pil python3-skimage dataset-fashion-mnist

.PHONY: deps build run test bench clean

# Idempotent and quick when everything is present: apt-get runs only for what is missing.
deps:
	@missing=$$(for p in $(PACKAGES); do \
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

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600

bench: build
	$(BUILD_DIR)/tests/benchmarks/bench_capture_overhead
	QT_QPA_PLATFORM=offscreen $(BUILD_DIR)/tests/benchmarks/bench_feature_grid
	/usr/bin/python3 tests/benchmarks/bench_extraction.py $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
