#include "models/ann.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

// hnswlib defines non-inline functions in its headers: this must stay the
// only translation unit that includes it.
#include <hnswlib/hnswlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace vitrina {
namespace {

// Squared Euclidean distance; hnswlib keeps the smallest.
float SquaredDistancePortable(const void* a, const void* b, const void* dim_ptr) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t dim = *static_cast<const size_t*>(dim_ptr);
  float sum = 0;
  for (size_t i = 0; i < dim; ++i) sum += (x[i] - y[i]) * (x[i] - y[i]);
  return sum;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) float SquaredDistanceAvx2(const void* a, const void* b, const void* dim_ptr) {
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  const size_t dim = *static_cast<const size_t*>(dim_ptr);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
  }
  for (; i + 8 <= dim; i += 8) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
  }
  const __m256 s = _mm256_add_ps(s0, s1);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  float sum = _mm_cvtss_f32(h);
  for (; i < dim; ++i) sum += (x[i] - y[i]) * (x[i] - y[i]);
  return sum;
}
#endif

hnswlib::DISTFUNC<float> ChooseSquaredDistance() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SquaredDistanceAvx2;
#endif
  return SquaredDistancePortable;
}

class SquaredDistanceSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit SquaredDistanceSpace(size_t dim) : dim_(dim), function_(ChooseSquaredDistance()) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return function_; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  size_t dim_;
  hnswlib::DISTFUNC<float> function_;
};

using Graph = hnswlib::HierarchicalNSW<float>;
using Link = hnswlib::tableint;
using LinkCount = hnswlib::linklistsizeint;

template <typename T>
bool ReadPod(std::ifstream& in, T* value) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(value), sizeof(T)));
}

// Walks a file written by HierarchicalNSW::saveIndex and checks that it
// holds `count` rows of `dim` floats with every length and link in range,
// so that hnswlib's own reader (which trusts the file) never runs past it.
Status CheckIndexFile(const std::string& path, size_t count, size_t dim) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot open " + path);
  std::error_code error;
  const uint64_t file_size = std::filesystem::file_size(path, error);
  if (error) return Status::IOError("cannot stat " + path + ": " + error.message());
  size_t offset_level0 = 0, max_elements = 0, elements = 0, bytes_per_element = 0, label_offset = 0, data_offset = 0;
  int max_level = 0;
  Link entry = 0;
  size_t max_links = 0, max_links0 = 0, links = 0, ef_construction = 0;
  double level_multiplier = 0;
  auto corrupt = [&](const std::string& what) { return Status::Corruption(path + ": " + what); };
  if (!ReadPod(in, &offset_level0) || !ReadPod(in, &max_elements) || !ReadPod(in, &elements) ||
      !ReadPod(in, &bytes_per_element) || !ReadPod(in, &label_offset) || !ReadPod(in, &data_offset) ||
      !ReadPod(in, &max_level) || !ReadPod(in, &entry) || !ReadPod(in, &max_links) || !ReadPod(in, &max_links0) ||
      !ReadPod(in, &links) || !ReadPod(in, &level_multiplier) || !ReadPod(in, &ef_construction)) {
    return corrupt("truncated header");
  }
  if (elements != count) {
    return corrupt("indexes " + std::to_string(elements) + " items, the model has " + std::to_string(count));
  }
  const size_t level0_links_bytes = max_links0 * sizeof(Link) + sizeof(LinkCount);
  if (links < 2 || links > 4096 || max_links != links || max_links0 != 2 * links || offset_level0 != 0 ||
      data_offset != level0_links_bytes || label_offset != data_offset + dim * sizeof(float) ||
      bytes_per_element != label_offset + sizeof(hnswlib::labeltype) || max_elements < elements || max_level < 0 ||
      max_level > 64 || (count > 0 && entry >= count)) {
    return corrupt("header does not describe " + std::to_string(dim) + "-float rows");
  }
  const uint64_t header_bytes = static_cast<uint64_t>(in.tellg());
  if (file_size < header_bytes + static_cast<uint64_t>(count) * bytes_per_element) return corrupt("truncated rows");
  std::vector<char> element(bytes_per_element);
  for (size_t i = 0; i < count; ++i) {
    in.read(element.data(), static_cast<std::streamsize>(bytes_per_element));
    LinkCount n = 0;
    std::memcpy(&n, element.data(), sizeof(n));
    hnswlib::labeltype label = 0;
    std::memcpy(&label, element.data() + label_offset, sizeof(label));
    if (n > max_links0 || label >= count) return corrupt("bad base-layer entry " + std::to_string(i));
    for (LinkCount j = 0; j < n; ++j) {
      Link target = 0;
      std::memcpy(&target, element.data() + sizeof(LinkCount) + j * sizeof(Link), sizeof(target));
      if (target >= count) return corrupt("base-layer link out of range at entry " + std::to_string(i));
    }
  }
  const size_t upper_bytes = max_links * sizeof(Link) + sizeof(LinkCount);
  std::vector<char> upper;
  for (size_t i = 0; i < count; ++i) {
    unsigned int size = 0;
    if (!ReadPod(in, &size)) return corrupt("truncated upper layers");
    if (size % upper_bytes != 0 || size / upper_bytes > static_cast<size_t>(max_level)) {
      return corrupt("bad upper-layer size at entry " + std::to_string(i));
    }
    upper.resize(size);
    if (size > 0 && !in.read(upper.data(), size)) return corrupt("truncated upper layers");
    for (size_t level = 0; level < size / upper_bytes; ++level) {
      const char* list = upper.data() + level * upper_bytes;
      LinkCount n = 0;
      std::memcpy(&n, list, sizeof(n));
      if (n > max_links) return corrupt("bad upper-layer entry " + std::to_string(i));
      for (LinkCount j = 0; j < n; ++j) {
        Link target = 0;
        std::memcpy(&target, list + sizeof(LinkCount) + j * sizeof(Link), sizeof(target));
        if (target >= count) return corrupt("upper-layer link out of range at entry " + std::to_string(i));
      }
    }
  }
  if (static_cast<uint64_t>(in.tellg()) != file_size) return corrupt("trailing bytes");
  return Status::OK();
}

}  // namespace

// Maximum inner product becomes nearest neighbour (Bachrach et al. 2014):
// row x is stored as [x, sqrt(R^2 - |x|^2)] with R the largest row norm, and
// a query q is searched as [q, 0]. Then |q' - x'|^2 = |q|^2 + R^2 - 2 q.x,
// so the nearest stored rows have the largest inner products, and the graph
// is built on a true metric (searching with -q.x as the "distance" instead
// found far fewer of the exact top 50 for trained SASRec embeddings).
struct InnerProductIndex::Impl {
  Impl(size_t d, size_t capacity, const AnnOptions& options, uint64_t seed)
      : dim(d), space(d + 1),
        graph(&space, std::max<size_t>(1, capacity), static_cast<size_t>(options.links),
              static_cast<size_t>(options.ef_construction), seed) {}
  Impl(size_t d, const std::string& path) : dim(d), space(d + 1), graph(&space, path) {
    // Every stored row has squared norm R^2: read it off the first.
    if (graph.cur_element_count > 0) {
      const float* row = reinterpret_cast<const float*>(graph.getDataByInternalId(0));
      for (size_t i = 0; i <= dim; ++i) radius_squared += row[i] * row[i];
    }
  }

  size_t dim;
  SquaredDistanceSpace space;  // before graph: the graph keeps a pointer to it
  Graph graph;
  float radius_squared = 0;
};

InnerProductIndex::InnerProductIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InnerProductIndex::~InnerProductIndex() = default;

std::unique_ptr<InnerProductIndex> InnerProductIndex::Build(std::span<const float> rows, size_t dim,
                                                            const AnnOptions& options, int threads, uint64_t seed) {
  const auto start = std::chrono::steady_clock::now();
  const size_t count = dim == 0 ? 0 : rows.size() / dim;
  auto impl = std::make_unique<Impl>(dim, count, options, seed);
  impl->graph.setEf(static_cast<size_t>(std::max(1, options.ef_search)));
  std::vector<float> norms(count);
  for (size_t r = 0; r < count; ++r) {
    float sum = 0;
    for (size_t d = 0; d < dim; ++d) sum += rows[r * dim + d] * rows[r * dim + d];
    norms[r] = sum;
    impl->radius_squared = std::max(impl->radius_squared, sum);
  }
  auto insert = [&](size_t r, std::vector<float>* extended) {
    extended->assign(rows.begin() + static_cast<std::ptrdiff_t>(r * dim),
                     rows.begin() + static_cast<std::ptrdiff_t>((r + 1) * dim));
    extended->push_back(std::sqrt(std::max(0.0f, impl->radius_squared - norms[r])));
    impl->graph.addPoint(extended->data(), r);
  };
  // Each worker takes the next row; the first goes in alone so that the
  // entry point does not depend on the interleaving.
  std::vector<float> first;
  if (count > 0) insert(0, &first);
  std::atomic<size_t> next{1};
  auto work = [&] {
    std::vector<float> extended;
    for (size_t r = next++; r < count; r = next++) insert(r, &extended);
  };
  std::vector<std::thread> workers;
  for (int t = 1; t < std::max(1, threads); ++t) workers.emplace_back(work);
  work();
  for (std::thread& worker : workers) worker.join();
  std::unique_ptr<InnerProductIndex> index(new InnerProductIndex(std::move(impl)));
  index->build_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return index;
}

Result<std::unique_ptr<InnerProductIndex>> InnerProductIndex::Load(const std::string& path, size_t count, size_t dim,
                                                                   const AnnOptions& options) {
  VITRINA_RETURN_IF_ERROR(CheckIndexFile(path, count, dim + 1));
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>(dim, path);
  } catch (const std::exception& e) {
    return Status::Corruption(path + ": " + e.what());
  }
  impl->graph.setEf(static_cast<size_t>(std::max(1, options.ef_search)));
  return std::unique_ptr<InnerProductIndex>(new InnerProductIndex(std::move(impl)));
}

Status InnerProductIndex::Save(const std::string& path) const {
  try {
    impl_->graph.saveIndex(path);
  } catch (const std::exception& e) {
    return Status::IOError("cannot write " + path + ": " + e.what());
  }
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return Status::IOError("cannot write " + path);
  return Status::OK();
}

size_t InnerProductIndex::size() const { return impl_->graph.cur_element_count; }
size_t InnerProductIndex::dim() const { return impl_->dim; }

void InnerProductIndex::Search(std::span<const float> query, size_t k, const std::function<bool(uint32_t)>& skip,
                               std::vector<std::pair<uint32_t, float>>* out) const {
  out->clear();
  const size_t n = size();
  if (k == 0 || n == 0) return;
  thread_local std::vector<float> extended;
  extended.assign(query.begin(), query.begin() + static_cast<std::ptrdiff_t>(impl_->dim));
  extended.push_back(0.0f);
  float query_squared = 0;
  for (size_t d = 0; d < impl_->dim; ++d) query_squared += extended[d] * extended[d];
  size_t asked = std::min(n, k + 16);
  while (true) {
    auto found = impl_->graph.searchKnn(extended.data(), asked);  // farthest on top
    const size_t returned = found.size();
    out->resize(returned);
    for (size_t i = returned; i-- > 0;) {
      const float distance = found.top().first;
      (*out)[i] = {static_cast<uint32_t>(found.top().second), 0.5f * (query_squared + impl_->radius_squared - distance)};
      found.pop();
    }
    std::erase_if(*out, [&](const std::pair<uint32_t, float>& hit) { return skip && skip(hit.first); });
    if (out->size() >= k || asked >= n) break;
    asked = std::min(n, asked * 2);
  }
  if (out->size() > k) out->resize(k);
}

Status SaveIndexBeside(const InnerProductIndex* index, const std::string& model_path) {
  const std::string path = IndexPath(model_path);
  if (index != nullptr) return index->Save(path);
  std::error_code error;
  std::filesystem::remove(path, error);
  if (error) return Status::IOError("cannot remove " + path + ": " + error.message());
  return Status::OK();
}

Result<std::unique_ptr<InnerProductIndex>> LoadIndexBeside(const std::string& model_path, size_t count, size_t dim,
                                                           const AnnOptions& options) {
  const std::string path = IndexPath(model_path);
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return std::unique_ptr<InnerProductIndex>();
  return InnerProductIndex::Load(path, count, dim, options);
}

int IndexBuildThreads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

}  // namespace vitrina
