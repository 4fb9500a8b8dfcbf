// http/connection.h — internal: one accepted TCP connection, its llhttp parser and its write queue.
//
// Contract: created and owned by Server (which tracks it until it is closed); deletes itself in the close
// callback of its last libuv handle, then tells the Server. Loop thread only. At most one request is in
// flight: after a request is parsed, parsing pauses (bytes that follow stay buffered) until its response is
// finished, which is what keeps pipelined answers in order. Parsing also pauses after each head while the
// Server's head hook decides, and while a BodySink is full; input then stops being read once a little
// has piled up, so a client sending a body meets TCP flow control instead of our heap. The Responder of the
// request in flight points back here; the connection cuts that link when the response finishes or the
// connection closes.
#pragma once

#include <llhttp.h>
#include <uv.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/gzip_inflater.h"
#include "http/request.h"
#include "http/response.h"
#include "http/server.h"

namespace settee::http {

namespace detail {

class Connection {
 public:
  explicit Connection(Server* server);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Accepts the pending connection on `listener` and starts reading; on failure, closes itself.
  void start(uv_stream_t* listener);
  // Takes `socket`, accepted by another loop's listener, and starts reading; on failure, closes it.
  void start(uv_os_sock_t socket);
  // Closes the socket now (idempotent). An unfinished Responder is told through its onClose.
  void close();

  // The Responder side; each takes the Responder in flight.
  void sendResponse(Responder& responder, Response&& response);
  void startStream(Responder& responder, int status, Headers&& headers);
  void writeChunk(Responder& responder, std::string_view chunk);
  void endStream(Responder& responder);
  void abandon(Responder& responder);  // dropped without an answer
  size_t pendingBytes() const { return queuedBytes_; }

 private:
  ~Connection() = default;  // only through close()

  // llhttp callbacks, via parser_.data.
  static int onMessageBegin(llhttp_t* parser);
  static int onUrl(llhttp_t* parser, const char* at, size_t length);
  static int onHeaderField(llhttp_t* parser, const char* at, size_t length);
  static int onHeaderValue(llhttp_t* parser, const char* at, size_t length);
  static int onHeaderValueComplete(llhttp_t* parser);
  static int onHeadersComplete(llhttp_t* parser);
  static int onChunkHeader(llhttp_t* parser);
  static int onBody(llhttp_t* parser, const char* at, size_t length);
  static int onMessageComplete(llhttp_t* parser);
  static const llhttp_settings_t& parserSettings();
  int countHeaderBytes(size_t length);
  int headersComplete();
  // After a head is parsed: shows it to the head hook (or accepts it) before any body byte is parsed.
  void headParsed();
  void decideHead(HeadDecision decision);
  bool acceptHead(HeadDecision& decision);
  // Keeps body bytes (in the request, or the sink); 0, HPE_PAUSED when the sink is full, or an error.
  int takeBody(const char* at, size_t length);
  // Counts `n` more bytes of a held body against the server's budget; false when it would pass it.
  bool chargeBody(size_t n);
  void releaseBody();
  int overBudget();  // refuses the body with 503
  // Hands body bytes to the sink; HPE_PAUSED when it is full.
  int toSink(std::string_view piece);
  int pumpInflater();  // decodes gzipPending_ into the sink while it takes more
  void resumeSink();
  int reject(int status, std::string error, std::string reason);

  // libuv callbacks.
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onShutdown(uv_shutdown_t* req, int status);
  static void onTimer(uv_timer_t* timer);
  static void onClosed(uv_handle_t* handle);

  // Parses buffered input and dispatches complete requests, while no request is in flight.
  void drive();
  void dispatch();
  void failParse(llhttp_errno_t error);
  // The framing checks llhttp 8 leaves out (see drive()). checkChunkEnd checks the bytes of [at, end)
  // that belong to the CRLF due after a chunk's data; checkHeadBytes answers 400 itself.
  bool checkChunkEnd(const char* at, const char* end);
  bool checkHeadBytes(std::string_view head);
  void badFraming(const char* reason);
  void sendError(int status, std::string_view error, std::string_view reason, bool keepAlive);
  std::shared_ptr<Responder> newResponder(bool keepAlive);
  void finishExchange(Responder& responder, bool closeAfter);
  void updateReading();
  void armIdleTimer();
  void closeAfterFlush();
  void begin();  // a socket is ours: options, the peer's address, reading
  void beginLinger();
  void drained();
  std::string head(const Responder& responder, int status, const Headers& headers,
                   std::optional<size_t> contentLength, bool chunked, bool closeAfter);
  void write(std::string first, std::string second = {});

  Server* server_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_shutdown_t shutdownReq_;
  int openHandles_ = 2;
  llhttp_t parser_;
  std::string peer_;
  char readBuffer_[64 * 1024];

  std::string input_;             // received, not yet parsed (parsing pauses while a request is in flight)
  Responder* current_ = nullptr;  // the request in flight, if any
  size_t queuedBytes_ = 0;        // handed to uv_write, not yet written

  // The request being parsed.
  Request request_;
  std::string field_, value_;
  size_t headerBytes_ = 0;
  size_t rawBodyBytes_ = 0;
  std::unique_ptr<GzipInflater> inflater_;
  bool keepAlive_ = true;
  bool messageDone_ = false;
  // Framing state for the checks llhttp 8 does not make.
  bool inHead_ = true;        // the next bytes parsed belong to a request head
  bool chunked_ = false;      // the request being parsed has a chunked body
  uint64_t chunkLeft_ = 0;    // data bytes of the current chunk not yet seen
  size_t chunkCrlfSeen_ = 2;  // bytes checked of the CRLF due after the current chunk's data (2: none due)
  char last_[2] = {0, 0};     // the last two bytes parsed, for checks that straddle two reads
  const char* executeEnd_ = nullptr;  // end of the bytes given to the llhttp_execute running now

  // The head hook and the body it decides on.
  bool headReady_ = false;     // onHeadersComplete paused the parser at the end of a head
  bool parseOwed_ = false;     // llhttp may have work to do without more input (a pause was lifted)
  bool awaitingHead_ = false;  // the head hook has the head; nothing more is parsed until it decides
  bool hasBody_ = false;
  bool gzip_ = false;            // Content-Encoding: gzip
  bool expectContinue_ = false;  // 100 Continue is owed once the head is accepted
  size_t bodyLimit_ = 0;
  std::string tooLargeReason_;
  std::optional<Response> headReject_;  // a body-less request the hook refused, answered at dispatch
  std::shared_ptr<BodySink> sink_;
  bool sinkFull_ = false;
  std::string gzipPending_;  // compressed bytes parsed but not yet decoded into a full sink
  uint64_t inflatedBytes_ = 0;
  size_t charged_ = 0;  // of the server's body budget, held until the answer is finished
  // Points at this connection until it closes; what late callbacks (a head decision, a sink's resume)
  // hold, so they do nothing once it has gone.
  std::shared_ptr<Connection*> self_;
  int rejectStatus_ = 0;  // answer this instead of calling the handler
  std::string rejectError_, rejectReason_;

  bool closing_ = false;
  bool reading_ = false;
  bool eof_ = false;  // the client has shut down its side (or the socket failed)
  bool driving_ = false;
  bool resumeOnDrain_ = false;  // a finished response left a large queue; read on once it drains
  bool closeAfterFlush_ = false;
  bool lingering_ = false;  // our side shut down; discarding input until EOF or the linger timeout
};

}  // namespace detail
}  // namespace settee::http
