using System.Globalization;

namespace Savate.LoadTest;

/// <summary>CPU (utime+stime) and memory of a process from /proc.</summary>
internal static class ProcStats
{
    private const double ClockTicksPerSecond = 100; // getconf CLK_TCK on Linux

    /// <summary>CPU seconds (user + system) used so far, or NaN if the process is gone.</summary>
    public static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may hold spaces: count fields after the closing parenthesis.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
            var stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
            return (utime + stime) / ClockTicksPerSecond;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return double.NaN;
        }
    }

    /// <summary>TcpExt ListenOverflows from /proc/net/netstat (machine-wide, since boot), or 0 if unreadable.</summary>
    public static long ListenOverflows()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/net/netstat");
            for (var i = 0; i + 1 < lines.Length; i++)
            {
                if (lines[i].StartsWith("TcpExt:", StringComparison.Ordinal) && lines[i + 1].StartsWith("TcpExt:", StringComparison.Ordinal))
                {
                    var names = lines[i].Split(' ');
                    var values = lines[i + 1].Split(' ');
                    var index = Array.IndexOf(names, "ListenOverflows");
                    return index > 0 && index < values.Length ? long.Parse(values[index], CultureInfo.InvariantCulture) : 0;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return 0;
    }

    /// <summary>A field of /proc/pid/status in kB (VmRSS, VmHWM), or -1.</summary>
    public static long StatusKb(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    var value = line[(field.Length + 1)..].Trim().Split(' ')[0];
                    return long.Parse(value, CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return -1;
    }

    /// <summary>Soft limit on open files of this process (after the runtime raised it to the hard limit).</summary>
    public static long OpenFileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return parts[3] == "unlimited" ? long.MaxValue : long.Parse(parts[3], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }
        return -1;
    }

    /// <summary>Machine-wide jiffies from the first line of /proc/stat: (total, idle+iowait, softirq+irq, system).</summary>
    public static (long Total, long Idle, long Irq, long System) MachineTicks()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").First();
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            // user nice system idle iowait irq softirq steal (guest is already in user)
            var total = f.Take(8).Sum();
            return (total, f[3] + f[4], f[5] + f[6], f[2]);
        }
        catch (IOException)
        {
            return default;
        }
    }

    /// <summary>CPU seconds of every process by pid, with its command name (to see who else used the CPU).</summary>
    public static Dictionary<int, (string Name, double Seconds)> AllProcesses()
    {
        var result = new Dictionary<int, (string, double)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var open = stat.IndexOf('(');
                var close = stat.LastIndexOf(')');
                var fields = stat[(close + 2)..].Split(' ');
                var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                result[pid] = (stat[(open + 1)..close], ticks / ClockTicksPerSecond);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
            }
        }
        return result;
    }
}
