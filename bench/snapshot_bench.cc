// Snapshots parsed and analysed per second at 2, 64, 512 and 1,024 CPUs, in format 1 (every CPU
// written out) and format 2 (compact). The hosts are a recorded EPYC 7713 snapshot with its first
// CPU replicated, each copy with its own APIC ID (tests/support/synthetic_snapshot.h).
//
//   build/bench/kvmprobe_bench --benchmark_filter=Parse
//
// BM_Read: what `--from FILE` does (nlohmann SAX straight into the Snapshot, limits enforced).
// BM_DomThenRead: nlohmann's tree first, then the same reader over it (the shape of the reader
//   before the streaming one). BM_Simdjson: simdjson 3.0.1 parsing the text and visiting every
//   value, converting every hex string: a lower bound for a reader built on it.
// BM_ReadAndCheck: BM_Read plus choosing the kernel profile and analyse(), i.e. `check --from`
//   without printing.
#include <benchmark/benchmark.h>

#include <map>
#include <stdexcept>
#include <string>

#include "core/analyse/analyse.h"
#include "core/collect/snapshot_json.h"
#include "core/profiles/profiles.h"
#include "tests/support/synthetic_snapshot.h"

#ifdef KVMPROBE_BENCH_SIMDJSON
#include <simdjson.h>
#endif

namespace kvmprobe {
namespace {

const Snapshot& base_host() {
  static const Snapshot s = [] {
    auto r = collect::load_snapshot_file(std::string(KVMPROBE_SOURCE_DIR) + "/tests/data/snapshots/amd-epyc-7713-svm.json");
    if (!r) throw std::runtime_error(r.error().detail);
    return *r;
  }();
  return s;
}

/// The text of an \a cpus-CPU host in \a format, made once.
const std::string& host_text(int format, int cpus) {
  static std::map<std::pair<int, int>, std::string> cache;
  auto& t = cache[{format, cpus}];
  if (t.empty()) t = collect::snapshot_to_text(testing::replicate_cpus(base_host(), static_cast<unsigned>(cpus)), format);
  return t;
}

void count(benchmark::State& state, const std::string& text) {
  state.SetItemsProcessed(state.iterations());  // items/s = snapshots per second
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["file_KiB"] = static_cast<double>(text.size()) / 1024.0;
}

void BM_Read(benchmark::State& state) {
  const std::string& text = host_text(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  for (auto _ : state) {
    auto r = collect::parse_snapshot(text);
    if (!r) state.SkipWithError(r.error().detail.c_str());
    benchmark::DoNotOptimize(r);
  }
  count(state, text);
}

void BM_DomThenRead(benchmark::State& state) {
  const std::string& text = host_text(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  for (auto _ : state) {
    auto r = collect::snapshot_from_json(nlohmann::json::parse(text));
    if (!r) state.SkipWithError(r.error().detail.c_str());
    benchmark::DoNotOptimize(r);
  }
  count(state, text);
}

void BM_ReadAndCheck(benchmark::State& state) {
  const std::string& text = host_text(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  for (auto _ : state) {
    auto r = collect::parse_snapshot(text);
    if (!r) {
      state.SkipWithError(r.error().detail.c_str());
      break;
    }
    auto profile = choose_profile(r->kernel_release.empty() ? "6.1" : r->kernel_release, r->kernel_version);
    if (!profile) {
      state.SkipWithError(profile.error().detail.c_str());
      break;
    }
    Report report = analyse(*r, *profile->profile);
    benchmark::DoNotOptimize(report);
  }
  count(state, text);
}

#ifdef KVMPROBE_BENCH_SIMDJSON
std::uint64_t visit(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  std::uint64_t sum = 0;
  switch (e.type()) {
    case element_type::OBJECT:
      for (auto field : e.get_object()) sum += field.key.size() + visit(field.value);
      break;
    case element_type::ARRAY:
      for (auto x : e.get_array()) sum += visit(x);
      break;
    case element_type::STRING: {
      std::string_view s = e.get_string();
      if (s.size() > 2 && s[0] == '0' && s[1] == 'x') sum += std::stoull(std::string(s.substr(2)), nullptr, 16);
      else sum += s.size();
      break;
    }
    case element_type::INT64: sum += static_cast<std::uint64_t>(int64_t(e)); break;
    case element_type::UINT64: sum += uint64_t(e); break;
    default: sum += 1; break;
  }
  return sum;
}

void BM_Simdjson(benchmark::State& state) {
  const std::string& text = host_text(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(text);
  for (auto _ : state) {
    simdjson::dom::element doc;
    if (parser.parse(padded).get(doc)) {
      state.SkipWithError("simdjson refused the text");
      break;
    }
    benchmark::DoNotOptimize(visit(doc));
  }
  count(state, text);
}
#endif

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"format", "cpus"});
  for (int format : {1, 2})
    for (int cpus : {2, 64, 512, 1024}) b->Args({format, cpus});
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_Read)->Apply(sizes);
BENCHMARK(BM_DomThenRead)->Apply(sizes);
BENCHMARK(BM_ReadAndCheck)->Apply(sizes);
#ifdef KVMPROBE_BENCH_SIMDJSON
BENCHMARK(BM_Simdjson)->Apply(sizes);
#endif

}  // namespace
}  // namespace kvmprobe

BENCHMARK_MAIN();
