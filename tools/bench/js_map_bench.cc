// js_map_bench — map_doc throughput of one JavaScript query server process, as a view build would use
// it: 100,000 small documents through `function(doc){ emit(doc.type, 1); }`, one map_doc exchange per
// document (CouchDB's protocol has no batching), in calls of 1,000 documents.
//   build/js_map_bench [SETTEE_BINARY] [DOCS]      (default build/settee, 100000)
// COUCHDB_QUERY_SERVER_JAVASCRIPT, when set, picks another query server (e.g. CouchDB's couchjs).
// Anchor: CouchDB's couchjs maps low thousands of documents per second per process.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "js/query_server_pool.h"

int main(int argc, char** argv) {
  const std::string binary = argc > 1 ? argv[1] : "build/settee";
  const size_t total = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100000;
  settee::js::PoolOptions options;
  options.command = settee::js::queryServerCommand(binary);
  options.maxProcesses = 1;
  settee::js::QueryServerPool pool(options);
  const settee::js::MapSpec spec{{"function(doc){ emit(doc.type, 1); }"}, ""};

  const char* types[] = {"post", "comment", "user", "tag"};
  std::vector<std::string> docs;
  docs.reserve(total);
  for (size_t i = 0; i < total; ++i) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  R"({"_id":"doc%08zu","_rev":"1-0123456789abcdef0123456789abcdef","type":"%s","n":%zu})", i,
                  types[i % 4], i);
    docs.emplace_back(buf);
  }
  // Warm up: the process starts and compiles the function.
  if (auto r = pool.mapDocs(spec, {docs[0]}); !r) {
    std::fprintf(stderr, "js_map_bench: %s: %s\n", r.status().error(), r.status().reason().c_str());
    return 1;
  }
  size_t emitted = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t at = 0; at < total; at += 1000) {
    std::vector<std::string_view> batch;
    for (size_t i = at; i < total && i < at + 1000; ++i) batch.push_back(docs[i]);
    auto r = pool.mapDocs(spec, batch);
    if (!r) {
      std::fprintf(stderr, "js_map_bench: %s: %s\n", r.status().error(), r.status().reason().c_str());
      return 1;
    }
    for (const auto& doc : *r) emitted += doc[0].size();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "js_map_bench: %zu docs mapped by one query server process (%s) in %.2f s: %.0f docs/s (%zu rows)\n",
      total, options.command.back().c_str(), secs, static_cast<double>(total) / secs, emitted);
  return emitted == total ? 0 : 1;
}
