using System.Reflection;
using System.Reflection.Emit;
using Savate.Server.Streaming;
using Xunit;

namespace Savate.Server.Tests.Architecture;

/// <summary>"<c>Streaming/</c> uses no HTTP types", checked over the compiled assembly rather than by review.</summary>
public sealed class LayeringTests
{
    private const string Forbidden = "Microsoft.AspNetCore";

    [Fact]
    public void StreamingNamespace_ReferencesNoAspNetCoreType()
    {
        var offenders = TypesIn("Savate.Server.Streaming")
            .SelectMany(type => ReferencedTypes(type).Where(IsForbidden).Select(used => $"{type.FullName} uses {used.FullName}"))
            .Distinct()
            .ToList();
        Assert.True(offenders.Count == 0, string.Join("\n", offenders));
    }

    [Fact]
    public void Scanner_FindsTheAspNetCoreTypesOfTheHttpLayer()
    {
        // The check would pass on a scanner that sees nothing: prove it sees HttpContext in the HTTP edge.
        var http = TypesIn("Savate.Server.Http").SelectMany(ReferencedTypes).Where(IsForbidden).Select(t => t.Name).ToHashSet();
        Assert.Contains("HttpContext", http);
    }

    [Fact]
    public void RelayLibrary_ReferencesNoAspNetCoreAssembly()
    {
        var references = typeof(Savate.Relay.RelayManager).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        Assert.DoesNotContain(references, name => name.StartsWith(Forbidden, StringComparison.Ordinal));
        Assert.Contains("Microsoft.Extensions.Logging.Abstractions", references);
    }

    private static IEnumerable<Type> TypesIn(string ns) =>
        typeof(Mount).Assembly.GetTypes().Where(t => t.Namespace is { } n && (n == ns || n.StartsWith(ns + ".", StringComparison.Ordinal)));

    private static bool IsForbidden(Type type) => type.Namespace?.StartsWith(Forbidden, StringComparison.Ordinal) == true;

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Every type a type names: base, interfaces, members' signatures, attributes, and the tokens of its method bodies.</summary>
    private static IEnumerable<Type> ReferencedTypes(Type type)
    {
        var found = new List<Type>();
        void Add(Type? t)
        {
            if (t is null)
            {
                return;
            }
            if (t.HasElementType)
            {
                Add(t.GetElementType());
                return;
            }
            found.Add(t);
            if (t.IsGenericType && !t.IsGenericTypeDefinition)
            {
                foreach (var argument in t.GetGenericArguments())
                {
                    Add(argument);
                }
            }
        }

        Add(type.BaseType);
        foreach (var i in type.GetInterfaces())
        {
            Add(i);
        }
        foreach (var attribute in type.GetCustomAttributesData())
        {
            Add(attribute.AttributeType);
        }
        foreach (var field in type.GetFields(All))
        {
            Add(field.FieldType);
        }
        foreach (var property in type.GetProperties(All))
        {
            Add(property.PropertyType);
        }
        foreach (var method in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
        {
            if (method is MethodInfo info)
            {
                Add(info.ReturnType);
            }
            foreach (var parameter in method.GetParameters())
            {
                Add(parameter.ParameterType);
            }
            if (method.GetMethodBody() is { } body)
            {
                foreach (var local in body.LocalVariables)
                {
                    Add(local.LocalType);
                }
                foreach (var used in BodyTypes(method, body.GetILAsByteArray() ?? []))
                {
                    Add(used);
                }
            }
        }
        return found;
    }

    private static readonly Dictionary<short, OpCode> s_opCodes = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>The types behind the method, field and type tokens of an IL body.</summary>
    private static IEnumerable<Type> BodyTypes(MethodBase method, byte[] il)
    {
        var module = method.Module;
        var typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var i = 0;
        while (i < il.Length)
        {
            short value = il[i++];
            if (value == 0xFE)
            {
                value = unchecked((short)(0xFE00 | il[i++]));
            }
            var op = s_opCodes[value];
            switch (op.OperandType)
            {
                case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                    var token = BitConverter.ToInt32(il, i);
                    Type? resolved = null;
                    try
                    {
                        resolved = module.ResolveMember(token, typeArgs, methodArgs) switch
                        {
                            Type t => t,
                            FieldInfo f => f.DeclaringType,
                            MethodBase m => m.DeclaringType,
                            _ => null,
                        };
                    }
                    catch (ArgumentException)
                    {
                        // A token of a generic context the scan does not reproduce: its signature types are checked above.
                    }
                    if (resolved is not null)
                    {
                        yield return resolved;
                    }
                    i += 4;
                    break;
                case OperandType.InlineSwitch:
                    i += 4 + (4 * BitConverter.ToInt32(il, i));
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    i += 1;
                    break;
                case OperandType.InlineVar:
                    i += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    i += 8;
                    break;
                default:
                    i += 4;
                    break;
            }
        }
    }
}
