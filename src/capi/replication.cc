// The C API's replications (settee.h, "Replication"): a settee::Replication between two endpoints, each a
// database handle or a URL, with options read as POST /_replicate reads its body (repl::parseOptions), so
// both doors take the same fields with the same checks.
#include <mutex>

#include "capi/capi_internal.h"
#include "capi/options.h"
#include "http/api.h"
#include "http/client_url.h"
#include "replicator/replication_spec.h"
#include "settee/replicator.h"

// Owns the replication; `mu` guards what the replication's listener and the app's calls share.
struct settee_replication {
  // The Replication goes first (its destructor stops it and waits for its threads), while the members
  // its listener touches still live.
  ~settee_replication() { replication.reset(); }

  std::unique_ptr<settee::Replication> replication;
  std::mutex mu;
  bool started = false;      // guarded by mu
  settee::Status lastError;  // guarded by mu: the listener's last error, cleared by a success
};

namespace settee::capi {
namespace {

using db::JsonWriter;
using db::writeKey;
using db::writeString;

// The fields of settee.h's options: POST /_replicate's, plus the C++ options it has no name for.
const std::initializer_list<std::string_view> kReplicationOptions = {"continuous",
                                                                     "doc_ids",
                                                                     "selector",
                                                                     "filter",
                                                                     "query_params",
                                                                     "since_seq",
                                                                     "create_target",
                                                                     "use_checkpoints",
                                                                     "batch_size",
                                                                     "worker_batch_size",
                                                                     "worker_processes",
                                                                     "checkpoint_interval",
                                                                     "connection_timeout",
                                                                     "heartbeat",
                                                                     "retries_per_request",
                                                                     "http_connections",
                                                                     "ca_file",
                                                                     "headers"};

Result<ReplicationPeer> peerOf(settee_db* db, const char* url, const char* side) {
  if ((db != nullptr) == (url != nullptr))
    return badRequest(std::string("give exactly one of ") + side + "_db and " + side + "_url");
  if (db) return ReplicationPeer::local(db->db);
  if (!http::Url::parse(url)) return badRequest(std::string("bad ") + side + " URL " + url);
  return ReplicationPeer::remote(url);
}

Result<ReplicationOptions> replicationOptions(const char* json) {
  Options reader;
  if (Status st = reader.parse(json, kReplicationOptions); !st) return st;
  ReplicationOptions options;
  if (!reader.present()) return options;
  if (Status st = repl::parseOptions(reader.root(), options); !st) return st;
  uint64_t n = 0;
  if (reader.has("batch_size")) {
    if (Status st = reader.getUint("batch_size", n); !st || n == 0)
      return badRequest("batch_size must be a positive integer");
    options.batchSize = n;
  }
  // The durations again, bounded (parseOptions takes any positive integer, which a deadline's arithmetic
  // would overflow once started).
  for (auto [key, field] :
       {std::pair{"heartbeat", &options.heartbeat}, std::pair{"connection_timeout", &options.timeout},
        std::pair{"checkpoint_interval", &options.checkpointInterval}}) {
    if (Status st = reader.getMillis(key, *field); !st) return st;
  }
  if (Status st = reader.getString("ca_file", options.caFile); !st) return st;
  std::vector<std::pair<std::string, std::string>> headers;
  if (Status st = reader.getStringMap("headers", headers); !st) return st;
  for (auto& h : headers) options.headers.push_back(std::move(h));
  return options;
}

std::string statusJson(ReplicationState state, const ReplicationStats& stats, const Status& error) {
  return http::writeJson([&](JsonWriter& w) {
    w.StartObject();
    writeKey(w, "state");
    writeString(w, stateName(state));
    const std::pair<const char*, uint64_t> counts[] = {{"docs_read", stats.docsRead},
                                                       {"docs_written", stats.docsWritten},
                                                       {"doc_write_failures", stats.docWriteFailures},
                                                       {"missing_revisions_found", stats.missingFound},
                                                       {"pending", stats.pending}};
    for (const auto& [name, value] : counts) {
      writeKey(w, name);
      w.Uint64(value);
    }
    // Sequences are JSON values as the source gave them (numbers here, strings from CouchDB).
    for (auto [name, seq] :
         {std::pair{"start_last_seq", &stats.startLastSeq}, {"end_last_seq", &stats.endLastSeq}}) {
      writeKey(w, name);
      if (seq->empty())
        w.Null();
      else
        db::writeRaw(w, *seq, (*seq)[0] == '"' ? rapidjson::kStringType : rapidjson::kNumberType);
    }
    if (!error.isOk()) {
      writeKey(w, "error");
      w.StartObject();
      writeKey(w, "error");
      writeString(w, error.error());
      writeKey(w, "reason");
      writeString(w, error.reason());
      w.EndObject();
    }
    w.EndObject();
  });
}

}  // namespace
}  // namespace settee::capi

using namespace settee;
using namespace settee::capi;

extern "C" {

settee_error* settee_replication_new(settee_db* source_db, const char* source_url, settee_db* target_db,
                                     const char* target_url, const char* options_json,
                                     settee_replication** out_replication) {
  return guard([&]() -> settee_error* {
    if (out_replication) *out_replication = nullptr;
    if (!out_replication) return badArgument("settee_replication_new needs out_replication");
    auto source = peerOf(source_db, source_url, "source");
    if (!source) return toError(source.status());
    auto target = peerOf(target_db, target_url, "target");
    if (!target) return toError(target.status());
    auto options = replicationOptions(options_json);
    if (!options) return toError(options.status());
    auto handle = std::make_unique<settee_replication>();
    handle->replication =
        std::make_unique<Replication>(std::move(*source), std::move(*target), std::move(*options));
    *out_replication = handle.release();
    return nullptr;
  });
}

settee_error* settee_replication_start(settee_replication* replication, settee_replication_fn fn,
                                       void* context) {
  return guard([&]() -> settee_error* {
    if (!replication) return badArgument("settee_replication_start needs a replication");
    {
      std::lock_guard lock(replication->mu);
      if (replication->started) return badArgument("the replication was already started");
      replication->started = true;
    }
    replication->replication->start([replication, fn, context](ReplicationState state,
                                                               const ReplicationStats& stats,
                                                               const Status& error) {
      guardVoid([&] {
        {
          std::lock_guard lock(replication->mu);
          replication->lastError = error;
        }
        if (fn) fn(context, statusJson(state, stats, error).c_str());
      });
    });
    return nullptr;
  });
}

void settee_replication_stop(settee_replication* replication) {
  guardVoid([&] {
    if (replication) replication->replication->stop();
  });
}

settee_error* settee_replication_wait(settee_replication* replication) {
  return guard([&]() -> settee_error* {
    if (!replication) return badArgument("settee_replication_wait needs a replication");
    return toError(replication->replication->wait());
  });
}

settee_error* settee_replication_status(settee_replication* replication, char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!replication || !out_json)
      return badArgument("settee_replication_status needs a replication and out_json");
    Status error;
    {
      std::lock_guard lock(replication->mu);
      error = replication->lastError;
    }
    *out_json =
        copyOut(statusJson(replication->replication->state(), replication->replication->stats(), error));
    return nullptr;
  });
}

void settee_replication_free(settee_replication* replication) {
  guardVoid([&] { delete replication; });  // the Replication's destructor stops it and waits
}

}  // extern "C"
