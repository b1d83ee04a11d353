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
  int idle_timeout_s = 60;        // an idle keep-alive connection is closed after this
  size_t max_connections = 10000; // more are accepted and closed at once
};

class HttpServer {
 public:
  // `router` must outlive the server.
  HttpServer(HttpServerOptions options, const Router* router);
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on background threads.
  Status Start();
  // The bound port (useful with port 0).
  uint16_t port() const;
  // Blocks until Stop() is called or SIGINT/SIGTERM arrives (when
  // `handle_signals`).
  void Wait(bool handle_signals);
  // Stops accepting and closes connections; joins the threads. Responses
  // still in flight are dropped. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vitrina
