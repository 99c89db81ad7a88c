using System.Globalization;
using System.Text;

namespace Backend.Xen.XenStore;

/// <summary>
/// A guest-written value made safe to print: control and format characters (an ESC that recolours an
/// administrator's terminal, a newline that forges a log line, a bidi override that reorders one) are
/// shown as <c>\xNN</c> / <c>\u{NNNN}</c>, and a long value is cut, so that a hostile megabyte stays out of
/// the logs. Every place that prints what a guest wrote goes through here.
/// </summary>
public static class PrintableValue
{
    public const int DefaultMaxLength = 64;

    public static string Of(string value, int maxLength = DefaultMaxLength)
    {
        var cut = value.Length > maxLength;
        var text = cut ? value.AsSpan(0, maxLength) : value.AsSpan();
        if (!cut && !NeedsEscape(text))
            return value;
        var sb = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (c is '\\')
                sb.Append(@"\\");
            else if (c < 0x100 && char.IsControl(c))
                sb.Append(@"\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else if (Escaped(c))
                sb.Append(@"\u{").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)).Append('}');
            else
                sb.Append(c);
        }
        if (cut)
            sb.Append('…');
        return sb.ToString();
    }

    private static bool NeedsEscape(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
            if (c is '\\' || Escaped(c))
                return true;
        return false;
    }

    // Controls, format characters (bidi overrides, zero-width joiners) and lone surrogates.
    private static bool Escaped(char c) =>
        char.IsControl(c) || char.IsSurrogate(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
}
