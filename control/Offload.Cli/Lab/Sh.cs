using System.Diagnostics;

namespace Offload.Cli.Lab;

/// <summary>A step of the lab that failed, said in one line with the command and what it printed.</summary>
internal sealed class LabException(string message) : Exception(message);

/// <summary>Runs the system's own tools (iproute2, nginx, tshark) and says which command failed and why.</summary>
internal static class Sh
{
    /// <summary>Runs <paramref name="program"/> to completion; its standard output, or a <see cref="LabException"/> naming the command.</summary>
    public static string Run(string program, params string[] args) => Run(TimeSpan.FromSeconds(30), program, args);

    public static string Run(TimeSpan timeout, string program, params string[] args)
    {
        var (code, output, error) = TryRun(timeout, program, args);
        if (code != 0)
            throw new LabException($"{program} {string.Join(' ', args)}: exit {code}: {FirstLine(error.Length > 0 ? error : output)}");
        return output;
    }

    /// <summary>Runs <paramref name="program"/>; its exit code (-1 when it did not end in time and was killed), output and errors.</summary>
    public static (int Code, string Output, string Error) TryRun(TimeSpan timeout, string program, params string[] args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            start.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(start) ?? throw new LabException($"{program}: could not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new LabException($"{program}: {e.Message} (is it installed? bash ci/setup.sh installs what the lab uses)");
        }
        using (p)
        {
            p.StandardInput.Close();
            var output = p.StandardOutput.ReadToEndAsync();
            var error = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeout))
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit();
                return (-1, output.Result, $"did not end within {timeout.TotalSeconds:0} s");
            }
            return (p.ExitCode, output.Result, error.Result);
        }
    }

    /// <summary>
    /// Starts a long-running program inside a network namespace, in a session of its own (a Ctrl-C meant for the lab
    /// does not reach it), with no terminal, its output appended to <paramref name="log"/>; returns its pid, which stays
    /// the program's own (setsid, sh and ip netns exec each exec the next).
    /// </summary>
    public static int StartIn(string netns, string log, string program, params string[] args)
    {
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var a in (string[])["sh", "-c", "exec \"$@\" </dev/null >>\"$OFFLOAD_LAB_LOG\" 2>&1", "sh", "ip", "netns", "exec", netns, program, .. args])
            start.ArgumentList.Add(a);
        start.Environment["OFFLOAD_LAB_LOG"] = log;
        try
        {
            using var p = Process.Start(start) ?? throw new LabException($"{program} in {netns}: could not start");
            return p.Id;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new LabException($"{program} in {netns}: {e.Message}");
        }
    }

    public static bool Alive(int pid)
    {
        try
        {
            return File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(')')[^1].TrimStart().StartsWith('Z');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string FirstLine(string text)
    {
        var line = text.Trim().Split('\n')[0].Trim();
        return line.Length == 0 ? "(no message)" : line;
    }
}
