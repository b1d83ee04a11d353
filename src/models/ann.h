// Approximate maximum-inner-product search over item vectors, for catalogs
// too large to score item by item on every request: an HNSW graph
// (hnswlib, Malkov & Yashunin 2018) searched with the dot product itself as
// the (negated) distance.
//
// The sequence models (sasrec, gru4rec), whose scores are a dot product
// between the network's output and an item vector, build one in Fit when
// the catalog has more than AnnOptions::exact_up_to items, save it beside
// their model file and answer Recommender::TopK from it. ALS does not: its
// factors (most items with tiny norms) gave far lower recall on Beauty.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vitrina {

struct AnnOptions {
  int exact_up_to = 50000;    // catalogs up to this many items are ranked exactly (no index)
  int links = 16;             // HNSW M: links per item and layer (twice as many on the base layer)
  int ef_construction = 200;  // candidates kept while inserting
  int ef_search = 384;        // candidates kept while searching (at least the k asked for)
};

class InnerProductIndex {
 public:
  ~InnerProductIndex();
  InnerProductIndex(const InnerProductIndex&) = delete;
  InnerProductIndex& operator=(const InnerProductIndex&) = delete;

  // Indexes `rows` (row-major, `dim` floats per row; row r is item r),
  // inserting on `threads` threads. With more than one thread the graph
  // depends on the interleaving, so it is not bit-for-bit reproducible.
  static std::unique_ptr<InnerProductIndex> Build(std::span<const float> rows, size_t dim, const AnnOptions& options,
                                                  int threads, uint64_t seed);

  // Reads an index written by Save; Corruption unless it holds `count`
  // rows of `dim` floats.
  static Result<std::unique_ptr<InnerProductIndex>> Load(const std::string& path, size_t count, size_t dim,
                                                         const AnnOptions& options);
  Status Save(const std::string& path) const;

  size_t size() const;
  size_t dim() const;
  // Seconds Build took (0 for a loaded index).
  double build_seconds() const { return build_seconds_; }

  // The (up to) `k` rows with the largest inner product with `query` (dim()
  // floats), best first, as (row, inner product). Rows for which `skip` is
  // true are passed over, and the search widens until `k` others are found
  // or every row was returned. Thread-safe.
  void Search(std::span<const float> query, size_t k, const std::function<bool(uint32_t)>& skip,
              std::vector<std::pair<uint32_t, float>>* out) const;

 private:
  struct Impl;
  explicit InnerProductIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  double build_seconds_ = 0;
};

// Whether a catalog of `items` gets an index under `options`.
inline bool WantsIndex(size_t items, const AnnOptions& options) {
  return options.exact_up_to >= 0 && items > static_cast<size_t>(options.exact_up_to);
}

// The index file kept beside a model file.
inline std::string IndexPath(const std::string& model_path) { return model_path + ".ann"; }

// Writes `index` beside `model_path`, or removes a stale index file there
// when `index` is null.
Status SaveIndexBeside(const InnerProductIndex* index, const std::string& model_path);

// The index saved beside `model_path`, or null when there is none (a model
// then builds one if its catalog wants it, with these threads and seed).
Result<std::unique_ptr<InnerProductIndex>> LoadIndexBeside(const std::string& model_path, size_t count, size_t dim,
                                                           const AnnOptions& options);
int IndexBuildThreads();
inline constexpr uint64_t kIndexSeed = 42;

}  // namespace vitrina
