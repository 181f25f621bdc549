// {fmt}'s compiled part, built once for the whole program. Debian's libfmt-dev ships only a shared libfmt, which a
// portable binary (static libstdc++) cannot use, and header-only fmt re-generates and optimizes format-inl.h in every
// translation unit that formats anything (about 4 s of each one's 5.5 s compile). This file is what fmt's own
// src/format.cc builds: format-inl.h's non-template functions, and the instantiations that format.h declares
// `extern template` or leaves to the library (fmt 9.x; CMakeLists.txt falls back to header-only for other versions).
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {

template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;

template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view, basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;
template FMT_API void buffer<wchar_t>::append(const wchar_t*, const wchar_t*);

} // namespace detail
FMT_END_NAMESPACE
