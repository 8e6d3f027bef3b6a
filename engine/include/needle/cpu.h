// What the CPU offers, probed in one place, and the instruction sets the
// optimized engine has kernels for. The engine's kernel dispatch and
// needle-bench's peak measurements both read HostCpu().
#ifndef NEEDLE_CPU_H_
#define NEEDLE_CPU_H_

#include <string_view>

#include "absl/status/statusor.h"

namespace needle {

// The features the kernels (and needle-bench's peak kernels) use, asked once.
struct CpuFeatures {
  // x86-64
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false;
  // aarch64: Advanced SIMD is mandatory; the Armv8.2 dot products (SDOT) are not.
  bool neon = false, neon_dot = false;
};
const CpuFeatures& HostCpu();

// Instruction sets with kernels. kAvx512Vnni needs AVX-512 F, BW, VL, DQ and
// VNNI (its integer products are VPDPBUSD). kNeonDot is kNeon plus SDOT, which
// only the w8a8/w4a8 products use; it is its own ISA so that both Arm integer
// paths can be run and tested on a CPU that has SDOT.
enum class Isa { kScalar, kAvx2, kAvx512Vnni, kNeon, kNeonDot };
inline constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni, Isa::kNeon, Isa::kNeonDot};

std::string_view IsaName(Isa isa);  // "scalar", "avx2", "avx512vnni", "neon", "neondot"
absl::StatusOr<Isa> ParseIsa(std::string_view name);
bool IsaSupported(Isa isa);  // the CPU has it and this build has its kernels
Isa BestIsa();               // the best supported one
// What an engine runs when its options name no ISA: the one the environment
// variable NEEDLE_ISA names if supported (to run a lower one without
// rebuilding), else BestIsa().
Isa DefaultIsa();

}  // namespace needle

#endif  // NEEDLE_CPU_H_
