// `settee status --data DIR DB [--peer URL] [--json] [--limit N]`: a local database's sync state with each
// peer it keeps it for (settee/sync_state.h): the counts, the pending, failed (with the peer's reason) and
// conflicted documents, and the last complete sync. Reads only: safe while `settee sync` runs on the same
// database (SQLite lets a reader in beside the writer).
#include <cstdio>
#include <string>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "db/json.h"
#include "settee/database.h"
#include "settee/sync.h"

namespace {

using namespace settee;

constexpr uint64_t kDefaultLimit = 20;

}  // namespace

void statusUsage(FILE* out) {
  std::fprintf(
      out,
      "usage: settee status [--data DIR] DB [--peer URL] [--json] [--limit N]\n"
      "  The sync state of the local database DB with each peer it syncs with (settee sync), or only URL:\n"
      "  how many documents are pending (the outbox: local revisions the peer has not confirmed), failed\n"
      "  (refused by the peer, with its reason) and conflicted (live losing leaves), which ones, and when\n"
      "  the last complete sync was.\n"
      "options:\n"
      "  --data DIR    where local databases live (default ./data)\n"
      "  --peer URL    only this peer (credentials in the URL are ignored; default every registered peer)\n"
      "  --limit N     documents listed per state (default %llu)\n"
      "  --json        one JSON object instead of text. Each peer's state is\n"
      "                  {\"peer\": URL without credentials,\n"
      "                   \"last_sync\": \"2026-12-05T04:00:00Z\" or null (never),\n"
      "                   \"pending\": N, \"failed\": N, \"conflicted\": N,\n"
      "                   \"pending_docs\": [{\"id\": ID, \"seq\": N}],\n"
      "                   \"failed_docs\": [{\"id\": ID, \"seq\": N, \"error\": NAME, \"reason\": TEXT}],\n"
      "                   \"conflicted_docs\": [{\"id\": ID}]}\n"
      "                (the *_docs lists hold at most N each, in id order). With --peer: that object, with\n"
      "                \"db\": DB added; without: {\"db\": DB, \"peers\": [one object per peer]}\n"
      "  --help, -h    this text\n"
      "exit status: 0; 1 when the database or its sync state cannot be read; 2 for bad usage\n",
      static_cast<unsigned long long>(kDefaultLimit));
}

namespace {

struct PeerReport {
  std::string peer;
  SyncCounts counts;
  std::vector<DocSyncEntry> pending, failed, conflicted;
};

Result<PeerReport> readPeer(Database& db, const std::string& peer, uint64_t limit) {
  PeerReport r;
  r.peer = peer;
  auto counts = db.syncCounts(peer);
  if (!counts) return counts.status();
  r.counts = *counts;
  const std::pair<DocSyncState, std::vector<DocSyncEntry>*> lists[] = {
      {DocSyncState::Pending, &r.pending},
      {DocSyncState::Failed, &r.failed},
      {DocSyncState::Conflicted, &r.conflicted}};
  for (auto [state, into] : lists) {
    if (limit == 0) break;
    auto docs = db.syncDocuments(peer, state, limit);
    if (!docs) return docs.status();
    *into = std::move(*docs);
  }
  return r;
}

void printText(const std::string& dbName, const std::vector<PeerReport>& peers) {
  if (peers.empty()) {
    std::printf("%s: no sync peers (settee sync registers one)\n", dbName.c_str());
    return;
  }
  for (const auto& p : peers) {
    const std::string last = cli::isoTime(p.counts.lastSyncMicros);
    std::printf("%s with %s\n  last sync: %s\n  pending %llu, failed %llu, conflicted %llu\n", dbName.c_str(),
                p.peer.c_str(), last.empty() ? "never" : last.c_str(),
                static_cast<unsigned long long>(p.counts.pending),
                static_cast<unsigned long long>(p.counts.failed),
                static_cast<unsigned long long>(p.counts.conflicted));
    auto list = [](const char* title, const std::vector<DocSyncEntry>& docs, uint64_t total, bool reasons) {
      if (docs.empty()) return;
      std::printf("  %s:\n", title);
      for (const auto& d : docs) {
        std::printf("    %s", d.id.c_str());
        if (d.seq) std::printf(" (seq %llu)", static_cast<unsigned long long>(d.seq));
        if (reasons) std::printf(": %s: %s", d.failure.error(), d.failure.reason().c_str());
        std::printf("\n");
      }
      if (total > docs.size())
        std::printf("    ... and %llu more\n", static_cast<unsigned long long>(total - docs.size()));
    };
    list("pending", p.pending, p.counts.pending, false);
    list("failed", p.failed, p.counts.failed, true);
    list("conflicted", p.conflicted, p.counts.conflicted, false);
  }
}

void writePeer(db::JsonWriter& w, const PeerReport& p) {
  db::writeKey(w, "peer");
  db::writeString(w, p.peer);
  db::writeKey(w, "last_sync");
  if (p.counts.lastSyncMicros)
    db::writeString(w, cli::isoTime(p.counts.lastSyncMicros));
  else
    w.Null();
  const std::pair<const char*, uint64_t> counts[] = {
      {"pending", p.counts.pending}, {"failed", p.counts.failed}, {"conflicted", p.counts.conflicted}};
  for (auto [k, v] : counts) {
    db::writeKey(w, k);
    w.Uint64(v);
  }
  auto list = [&](const char* key, const std::vector<DocSyncEntry>& docs, bool withSeq, bool reasons) {
    db::writeKey(w, key);
    w.StartArray();
    for (const auto& d : docs) {
      w.StartObject();
      db::writeKey(w, "id");
      db::writeString(w, d.id);
      if (withSeq) {
        db::writeKey(w, "seq");
        w.Uint64(d.seq);
      }
      if (reasons) {
        db::writeKey(w, "error");
        db::writeString(w, d.failure.error());
        db::writeKey(w, "reason");
        db::writeString(w, d.failure.reason());
      }
      w.EndObject();
    }
    w.EndArray();
  };
  list("pending_docs", p.pending, true, false);
  list("failed_docs", p.failed, true, true);
  list("conflicted_docs", p.conflicted, false, false);
}

// One peer asked for (--peer): its object with the database's name; otherwise every peer under "peers".
std::string json(const std::string& dbName, const std::vector<PeerReport>& peers, bool onePeer) {
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  w.StartObject();
  db::writeKey(w, "db");
  db::writeString(w, dbName);
  if (onePeer && peers.size() == 1) {
    writePeer(w, peers.front());
  } else {
    db::writeKey(w, "peers");
    w.StartArray();
    for (const auto& p : peers) {
      w.StartObject();
      writePeer(w, p);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(db::bufferView(buf));
}

}  // namespace

int statusCommand(const std::vector<std::string>& argv) {
  cli::Args args("status", argv);
  std::string dataDir = "./data", peerUrl;
  bool asJson = false;
  uint64_t limit = kDefaultLimit;
  std::vector<std::string> positional;
  while (!args.done()) {
    const std::string a = args.next();
    if (cli::isHelp(a)) {
      statusUsage(stdout);
      return 0;
    }
    if (a == "--json") {
      asJson = true;
    } else if (a == "--data" || a == "--peer" || a == "--limit") {
      auto v = args.value(a);
      if (!v) return 2;
      if (a == "--data") {
        dataDir = *v;
      } else if (a == "--peer") {
        peerUrl = *v;
      } else {
        auto n = cli::parseCount(*v);
        if (!n) return args.fail("--limit takes a number, not " + *v);
        limit = *n;
      }
    } else if (a.rfind("--", 0) == 0) {
      return args.fail("unknown option " + a);
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 1)
    return args.fail("expected DB, got " + std::to_string(positional.size()) + " arguments");
  const std::string& dbName = positional[0];

  // Not exclusive: a `settee sync` may have the database open (shared) at the same time.
  DatabaseOptions shared;
  shared.exclusive = false;
  DataDir data(dataDir, shared);
  auto db = data.open(dbName);
  if (!db) {
    std::fprintf(stderr, "settee status: %s: %s\n", dbName.c_str(), db.status().reason().c_str());
    return 1;
  }
  std::vector<std::string> peers;
  if (!peerUrl.empty()) {
    peers.push_back(syncPeerKey(peerUrl));
  } else {
    auto known = (*db)->syncPeers();
    if (!known) {
      std::fprintf(stderr, "settee status: %s: %s\n", dbName.c_str(), known.status().reason().c_str());
      return 1;
    }
    peers = std::move(*known);
  }
  std::vector<PeerReport> reports;
  for (const auto& peer : peers) {
    auto report = readPeer(**db, peer, limit);
    if (!report) {
      std::fprintf(stderr, "settee status: %s with %s: %s\n", dbName.c_str(), peer.c_str(),
                   report.status().reason().c_str());
      return 1;
    }
    reports.push_back(std::move(*report));
  }
  if (asJson) {
    std::printf("%s\n", json(dbName, reports, !peerUrl.empty()).c_str());
  } else {
    printText(dbName, reports);
  }
  return 0;
}
