// SPDX-License-Identifier: Apache-2.0
// C++ names for demangling: the hot function is shapes::Spinner<long>::spin(long).
// usage: cxx SECONDS
#include <cstdlib>
#include <ctime>

namespace shapes {
template <typename T> struct Spinner {
	volatile T sink = 0;
	__attribute__((noinline)) T spin(T n)
	{
		for (T i = 0; i < n; i++)
			sink = sink + i;
		return sink;
	}
};
} // namespace shapes

static double now()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	shapes::Spinner<long> s;
	double end = now() + (argc > 1 ? std::atof(argv[1]) : 3.0);
	while (now() < end)
		s.spin(100000);
	return 0;
}
