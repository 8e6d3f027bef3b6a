#include "needle/cpu.h"

#include <cstdlib>

#include "needle/str_cat.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace needle {
namespace {

CpuFeatures Probe() {
  CpuFeatures cpu;
#if defined(__x86_64__)
  __builtin_cpu_init();
  cpu.avx2 = __builtin_cpu_supports("avx2");
  cpu.fma = __builtin_cpu_supports("fma");
  cpu.avx512f = __builtin_cpu_supports("avx512f");
  cpu.avx512bw = __builtin_cpu_supports("avx512bw");
  cpu.avx512vl = __builtin_cpu_supports("avx512vl");
  cpu.avx512dq = __builtin_cpu_supports("avx512dq");
  cpu.avx512vnni = __builtin_cpu_supports("avx512vnni");
  // Asked directly: clang's __builtin_cpu_supports has no "f16c", and not every
  // compiler's knows "avx512bf16".
  unsigned eax, ebx, ecx, edx;
  cpu.f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;  // leaf 1, ECX bit 29
  cpu.avx512bf16 = cpu.avx512f && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && (eax & (1u << 5)) != 0;
#elif defined(__aarch64__)
  cpu.neon = true;
#if defined(__linux__)
  cpu.neon_dot = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
#endif
  return cpu;
}

}  // namespace

const CpuFeatures& HostCpu() {
  static const CpuFeatures cpu = Probe();
  return cpu;
}

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512Vnni:
      return "avx512vnni";
    case Isa::kNeon:
      return "neon";
    case Isa::kNeonDot:
      return "neondot";
  }
  return "?";
}

absl::StatusOr<Isa> ParseIsa(std::string_view name) {
  for (Isa isa : kAllIsas) {
    if (IsaName(isa) == name) return isa;
  }
  return absl::InvalidArgumentError(
      StrCat("unknown instruction set \"", name, "\" (scalar, avx2, avx512vnni, neon, neondot)"));
}

bool IsaSupported(Isa isa) {
  const CpuFeatures& cpu = HostCpu();
  switch (isa) {
    case Isa::kScalar:
      return true;
#if defined(NEEDLE_HAVE_X86_KERNELS)
    case Isa::kAvx2:
      return cpu.avx2 && cpu.fma && cpu.f16c;
    case Isa::kAvx512Vnni:
      return cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq && cpu.avx512vnni;
#endif
#if defined(NEEDLE_HAVE_NEON_KERNELS)
    case Isa::kNeon:
      return cpu.neon;
    case Isa::kNeonDot:
      return cpu.neon && cpu.neon_dot;
#endif
    default:
      return false;
  }
}

Isa BestIsa() {
  for (Isa isa : {Isa::kAvx512Vnni, Isa::kAvx2, Isa::kNeonDot, Isa::kNeon}) {
    if (IsaSupported(isa)) return isa;
  }
  return Isa::kScalar;
}

Isa DefaultIsa() {
  static const Isa isa = [] {
    if (const char* name = std::getenv("NEEDLE_ISA"); name != nullptr) {
      absl::StatusOr<Isa> named = ParseIsa(name);
      if (named.ok() && IsaSupported(*named)) return *named;
    }
    return BestIsa();
  }();
  return isa;
}

}  // namespace needle
