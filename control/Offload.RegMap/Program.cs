using Offload.RegMap;

// offload-regmap [REPO_ROOT] [--check]: writes (or with --check, compares) the generated register files.
string root = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? Directory.GetCurrentDirectory();
bool check = args.Contains("--check");
string jsonPath = Path.Combine(root, RegMapGenerator.JsonPath);
if (!File.Exists(jsonPath))
{
    Console.Error.WriteLine($"offload-regmap: {jsonPath} not found (give the repository root)");
    return 2;
}
RegMapGenerator.Map map;
try
{
    map = RegMapGenerator.Parse(File.ReadAllText(jsonPath));
}
catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
{
    Console.Error.WriteLine($"offload-regmap: {jsonPath}: {e.Message}");
    return 2;
}
int drift = 0;
foreach (var (rel, text) in new[] { (RegMapGenerator.VerilogPath, RegMapGenerator.Verilog(map)), (RegMapGenerator.CSharpPath, RegMapGenerator.CSharp(map)) })
{
    string path = Path.Combine(root, rel);
    bool same = File.Exists(path) && File.ReadAllText(path) == text;
    if (check)
    {
        if (!same)
        {
            Console.Error.WriteLine($"offload-regmap: {rel} is out of date; run offload-regmap");
            drift++;
        }
    }
    else if (!same)
    {
        // Write beside and rename so a failed write never leaves half a file.
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
        Console.WriteLine($"wrote {rel}");
    }
}
return drift == 0 ? 0 : 1;
