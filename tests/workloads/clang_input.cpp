// Input for tests/unwind_large.rs: a translation unit that keeps clang's front end (parsing
// the standard headers, instantiating templates) and LLVM's -O2 pipeline busy for seconds, so
// a recording of the compile samples code in libclang-cpp and libLLVM.
#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

template <int N> struct Chain {
    static int fill(std::map<int, std::string>& m) {
        m[N] = std::to_string(N);
        return Chain<N - 1>::fill(m) + N;
    }
};
template <> struct Chain<0> {
    static int fill(std::map<int, std::string>&) { return 0; }
};

int main(int argc, char** argv) {
    std::map<int, std::string> m;
    std::regex r(argv[0]);
    std::vector<std::string> v(argv, argv + argc);
    std::sort(v.begin(), v.end());
    std::ostringstream o;
    o << Chain<300>::fill(m) << std::regex_match(v[0], r);
    std::cout << o.str();
    return 0;
}
