using Offload.RegMap;

namespace Offload.Unit.Tests;

public class RegMapTests
{
    [Test]
    public void Generated_files_match_the_register_map()
    {
        string root = RepoRoot.Find();
        var map = RegMapGenerator.Parse(File.ReadAllText(Path.Combine(root, RegMapGenerator.JsonPath)));
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(Path.Combine(root, RegMapGenerator.VerilogPath)), Is.EqualTo(RegMapGenerator.Verilog(map)),
                "offload_regs.vh drifted from regmap.json: run `dotnet run --project control/Offload.RegMap`");
            Assert.That(File.ReadAllText(Path.Combine(root, RegMapGenerator.CSharpPath)), Is.EqualTo(RegMapGenerator.CSharp(map)),
                "RegMap.g.cs drifted from regmap.json: run `dotnet run --project control/Offload.RegMap`");
        });
    }

    [Test]
    public void Overlapping_registers_are_rejected_with_their_names()
    {
        const string json = """{"registers":[{"name":"A","addr":"0x10","access":"rw"},{"name":"B","addr":"0x8","count":3,"stride":"0x4","access":"ro"}]}""";
        var e = Assert.Throws<FormatException>(() => RegMapGenerator.Parse(json));
        Assert.That(e!.Message, Does.Contain("B[2]").And.Contain("A"));
    }

    [Test]
    public void Unaligned_address_is_rejected()
    {
        const string json = """{"registers":[{"name":"A","addr":"0x2","access":"rw"}]}""";
        Assert.That(() => RegMapGenerator.Parse(json), Throws.TypeOf<FormatException>().With.Message.Contains("aligned"));
    }
}
