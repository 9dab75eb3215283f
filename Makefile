# hearth: the two commands a newcomer needs are `make serve` and `make test`.
#   make serve  – install dependencies, build, fetch the default model (Gemma 3 270M Q4_K_M), serve it
#   make test   – install dependencies, build, run every test (ctest: GoogleTest units + pytest suites)
#   make build  – configure and build (Release) into build/
#   make model  – fetch and verify the default model into models/
#   make test-aarch64 – cross-build the core for aarch64 and run its unit tests under qemu-user
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
MODEL ?= models/gemma-3-270m-q4_k_m.gguf
HOST ?= 127.0.0.1
PORT ?= 8080
CMAKE_FLAGS ?=

.PHONY: setup build model test serve clean fuzz test-aarch64

setup:
	@scripts/setup

build: setup
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > /dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

model: build
	@scripts/fetch_model

test: build model
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 1800

serve: build model
	@$(BUILD_DIR)/bin/hearth serve -m $(MODEL) --host $(HOST) --port $(PORT)

fuzz: setup
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	    -DCMAKE_CXX_COMPILER=clang++ -DHEARTH_FUZZ=ON -DHEARTH_TESTS=OFF -DHEARTH_BENCH=OFF > /dev/null
	@cmake --build build-fuzz -j $(JOBS)

test-aarch64: setup
	@JOBS=$(JOBS) scripts/test_aarch64 build-aarch64

clean:
	rm -rf $(BUILD_DIR) build-fuzz build-aarch64
