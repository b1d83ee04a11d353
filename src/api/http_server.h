// An HTTP/1.1 server on Boost.Beast: a few threads run every connection
// asynchronously, so hundreds of keep-alive clients need no thread each.
// With a certificate and key it speaks HTTPS (TLS 1.2 or later) instead.
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
  // Timeouts are checked every second. A connection waits this long for
  // the first byte of its next request, and a body may stall this long.
  int idle_timeout_s = 60;
  // From the first byte of a request, its header must be complete within
  // this (and a TLS handshake within this from accept); else it is closed.
  int header_timeout_s = 5;
  size_t max_connections = 10000; // more are accepted and closed at once
  // Open connections per client IP address at most; more are closed at
  // once (0: no cap). Behind a reverse proxy all clients share its address.
  size_t max_connections_per_client = 256;
  // PEM files; both set: the port speaks HTTPS only. Both empty: plain HTTP.
  std::string tls_cert;  // certificate, followed by any intermediates
  std::string tls_key;   // its private key, unencrypted
  bool handle_signals = false;    // SIGINT/SIGTERM request a stop (see WaitForStopRequest)
};

// Checks that the TLS options are both empty, or name a readable
// certificate and the private key that matches it; the error names the
// option and the file. Start() makes the same checks.
Status CheckTlsFiles(const HttpServerOptions& options);

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

  // Loads the TLS files if set, binds, listens and starts serving on
  // background threads. InvalidArgument: the options are wrong.
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
