// An HTTP/1.1 server on Boost.Beast: a few threads run every connection
// asynchronously, so hundreds of keep-alive clients need no thread each.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/router.h"
#include "common/status.h"

namespace vitrina {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;           // 0 picks a free port (see HttpServer::port)
  int threads = 0;                // 0: one per CPU core
  size_t max_body_bytes = 32 << 20;
  size_t max_header_bytes = 16 << 10;
  int idle_timeout_s = 60;        // a connection idle (or stalled) this long is closed, checked every second
  size_t max_connections = 10000; // more are accepted and closed at once
  bool handle_signals = false;    // SIGINT/SIGTERM request a stop (see WaitForStopRequest)
};

// Lifetime: each Responder handed to a handler keeps its connection alive
// and posts to this server's threads, so every Responder must have run or
// been destroyed before the server is destroyed. (`serve` closes the
// ingestor, which runs all pending ones, before destroying the server.)
class HttpServer {
 public:
  // `router` must outlive the server.
  HttpServer(HttpServerOptions options, const Router* router);
  ~HttpServer();  // Stop()s

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts serving on background threads.
  Status Start();
  // The bound port (useful with port 0).
  uint16_t port() const;
  // Blocks until RequestStop() is called or, with handle_signals, SIGINT or
  // SIGTERM arrives (signals are caught from Start() on).
  void WaitForStopRequest();
  void RequestStop();
  // Closes the listening socket; open connections are still served.
  void StopAccepting();
  // Closes every connection and joins the threads; responses still in
  // flight are dropped. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vitrina
