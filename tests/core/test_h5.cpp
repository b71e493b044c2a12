#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "error_matchers.h"
#include "loupe/core/h5.h"
#include "test_util.h"

namespace loupe {
namespace {

#ifdef LOUPE_HAVE_HDF5

TEST(H5File, RowsRoundTripAcrossAppends) {
  test::TempDir dir;
  const auto path = dir.path() / "rows.h5";
  torch::manual_seed(0);
  const auto maps = torch::rand({5, 3, 4});
  const auto counts = torch::tensor(std::vector<int64_t>{7, -2, int64_t{1} << 40, 0, 3}, torch::kLong);
  const auto bytes = torch::randint(0, 256, {5, 2}, torch::kByte);
  {
    auto f = h5::File::create(path);
    f.create_rows("maps/a", torch::kFloat, {3, 4}, 2);
    f.create_rows("counts", torch::kLong, {}, 4, 0);
    f.create_rows("bytes", torch::kByte, {2}, 3);
    f.create_rows("values", torch::kDouble, {}, 8);
    f.create_string_rows("id", 2);
    // Three appends of 2, 0 and 3 rows; chunks of 2 straddle them.
    for (const auto& [a, b] : std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {2, 2}, {2, 5}}) {
      f.append("maps/a", maps.slice(0, a, b));
      f.append("counts", counts.slice(0, a, b));
      f.append("bytes", bytes.slice(0, a, b));
      f.append("values", counts.slice(0, a, b).to(torch::kDouble) / 3);
    }
    f.append_strings("id", {"a.png", "", "ünïcode/路径.png"});
    f.append_strings("id", {"x#4", std::string(300, 'z')});
    f.set_attr("count", int64_t{41});
    f.set_attr("count", int64_t{42});  // overwritten
    f.set_attr("name", std::string("loupe ✓"));
    f.close();
  }
  const auto f = h5::File::open(path);
  EXPECT_TRUE(f.has("maps/a"));
  EXPECT_TRUE(f.has("maps"));
  EXPECT_FALSE(f.has("maps/b"));
  EXPECT_FALSE(f.has("nothing/at/all"));
  EXPECT_EQ(f.rows("maps/a"), 5);
  EXPECT_EQ(f.row_shape("maps/a"), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(f.dtype("bytes"), torch::kByte);
  EXPECT_TRUE(torch::equal(f.read_all("maps/a"), maps));
  EXPECT_TRUE(torch::equal(f.read("maps/a", 1, 3), maps.slice(0, 1, 4)));
  EXPECT_TRUE(torch::equal(f.read_all("counts"), counts));
  EXPECT_TRUE(torch::equal(f.read_all("bytes"), bytes));
  EXPECT_TRUE(torch::allclose(f.read_all("values"), counts.to(torch::kDouble) / 3, 0, 0));
  EXPECT_EQ(f.read("counts", 5, 0).numel(), 0);
  const auto ids = f.read_strings("id", 0, 5);
  EXPECT_EQ(ids, (std::vector<std::string>{"a.png", "", "ünïcode/路径.png", "x#4", std::string(300, 'z')}));
  EXPECT_EQ(f.read_strings("id", 3, 1).front(), "x#4");
  EXPECT_EQ(f.children("maps"), std::vector<std::string>{"a"});
  EXPECT_EQ(f.attr_int("count"), 42);
  EXPECT_EQ(f.attr_string("name"), "loupe ✓");
  EXPECT_FALSE(f.has_attr("other"));
}

TEST(H5File, ErrorsNameTheFileAndObject) {
  test::TempDir dir;
  const auto path = dir.path() / "e.h5";
  {
    auto f = h5::File::create(path);
    f.create_rows("m", torch::kFloat, {2, 2}, 1);
    EXPECT_LOUPE_ERROR(f.append("m", torch::zeros({1, 3, 2})), "row shape");
    EXPECT_LOUPE_ERROR(f.append("m", torch::zeros({1, 2})), "dimension");
    EXPECT_LOUPE_ERROR(f.append("nope", torch::zeros({1, 2, 2})), "no dataset 'nope'");
    EXPECT_LOUPE_ERROR(f.create_rows("m", torch::kFloat, {2, 2}, 1), "exists already");
    EXPECT_LOUPE_ERROR(f.create_rows("h", torch::kHalf, {2}, 1), "Half");
    f.append("m", torch::zeros({2, 2, 2}));
    EXPECT_LOUPE_ERROR(f.read("m", 1, 2), "rows 1..3 asked of 2");
    EXPECT_LOUPE_ERROR(f.attr_int("missing"), "no attribute 'missing'");
    f.close();
  }
  // Truncated: the first 100 bytes of a valid file; another format; a missing file.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto cut = dir.path() / "cut.h5";
  std::ofstream(cut, std::ios::binary).write(bytes.data(), 100);
  EXPECT_LOUPE_ERROR(h5::File::open(cut), "cut.h5");
  const auto text = dir.path() / "text.h5";
  std::ofstream(text) << "not hdf5";
  EXPECT_LOUPE_ERROR(h5::File::open(text), "not an HDF5 file");
  EXPECT_LOUPE_ERROR(h5::File::open(dir.path() / "none.h5"), "not found");
  EXPECT_LOUPE_ERROR(h5::File::create(dir.path() / "no" / "such" / "dir.h5"), "cannot create");
}

#endif

}  // namespace
}  // namespace loupe
