// tools/fuzz/asked.h — what the replicator asked a peer for, read from a fuzz input's first line.
//
// The decoders of remote_answers.h check an answer against the question (revisions offered to
// _revs_diff, revisions asked of _bulk_get and open_revs), so the targets give them one: a JSON object
// {"id": ["rev", ...], ...}, the shape of a _revs_diff request. Anything else asks for nothing.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "replicator/endpoint.h"

namespace settee::fuzz {

inline std::vector<std::pair<std::string, std::vector<std::string>>> askedPairs(std::string_view line) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(line.data(), line.size()).get(root)) return out;
  for (auto field : root) {
    auto& entry = out.emplace_back(std::string(field.key), std::vector<std::string>());
    simdjson::dom::array revs;
    if (field.value.get(revs)) continue;
    for (auto rev : revs) {
      std::string_view s;
      if (!rev.get(s)) entry.second.emplace_back(s);
    }
  }
  return out;
}

inline std::vector<repl::MissingRevs> askedRevs(std::string_view line) {
  std::vector<repl::MissingRevs> out;
  for (auto& [id, revs] : askedPairs(line)) out.push_back({id, std::move(revs), {}, 0});
  return out;
}

}  // namespace settee::fuzz
