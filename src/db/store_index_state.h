// store_index_state.h — the Store's cache of its json index registrations (the `mango_indexes` table),
// shared by store_index.cc (registrations, rows, builds) and store_index_scan.cc (scans). Internal to the
// Store: read and changed only under its lock; a rollback marks it stale (Store::initIndexes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "db/store.h"

namespace settee::db {

struct Store::IndexState {
  struct Entry {
    int64_t id = 0;
    IndexSpec spec;
    std::string def;
    std::vector<std::vector<std::string>> paths;  // spec.fields split
    uint64_t buildUpto = 0;
    uint64_t builtTo = 0;
  };
  bool loaded = false;
  std::vector<Entry> entries;  // in (ddoc, name) order

  Entry* find(std::string_view ddoc, std::string_view name) {
    for (auto& e : entries)
      if (e.spec.ddoc == ddoc && e.spec.name == name) return &e;
    return nullptr;
  }
};

}  // namespace settee::db
