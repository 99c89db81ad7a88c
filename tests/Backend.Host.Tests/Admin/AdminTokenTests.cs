using Backend.Host.Admin;

namespace Backend.Host.Tests.Admin;

public sealed class AdminTokenTests
{
    private const string Secret = "s3cret-token-0123456789";

    [Fact]
    public void The_token_is_accepted_only_as_a_bearer_credential_of_exactly_that_value()
    {
        var token = AdminToken.Parse(Secret, out var why)!;
        Assert.Null(why);
        Assert.True(token.Accepts("Bearer " + Secret));
        Assert.True(token.Accepts("bearer " + Secret), "the scheme name is case-insensitive (RFC 7235)");
        Assert.False(token.Accepts(null));
        Assert.False(token.Accepts(Secret), "no scheme");
        Assert.False(token.Accepts("Basic " + Secret));
        Assert.False(token.Accepts("Bearer " + Secret[..^1]), "a prefix of the token");
        Assert.False(token.Accepts("Bearer " + Secret + "x"), "the token and more");
        Assert.False(token.Accepts("Bearer " + Secret.ToUpperInvariant()), "the token is case-sensitive");
        Assert.False(token.Accepts("Bearer "));
    }

    [Theory]
    [InlineData("short", "at least 16")]
    [InlineData("has a space in it, long enough", "space")]
    [InlineData("tab\tseparated-but-long-enough", "control")]
    [InlineData("non-ascii-é-long-enough-token", "non-ASCII")]
    public void A_token_that_cannot_be_one_says_why(string value, string expected)
    {
        Assert.Null(AdminToken.Parse(value, out var why));
        Assert.Contains(expected, why, StringComparison.Ordinal);
    }
}
